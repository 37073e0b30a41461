import FerryCRIU
import FerryContainers
import FerryErrors
import FerrySystem
import Foundation
import Logging

/// The target's side of a post-copy (`--postcopy`): the `criu lazy-pages` daemon that
/// fetches the restored copy's memory, a loopback listener it fetches from, and the relay
/// from there over the image stream to the source's lazy dump.
///
/// The daemon's exit status decides. 0: every page is in, the copy is whole and may be
/// committed. Anything else (the source died, the link broke, a frame failed its MAC, the
/// daemon was killed): some pages will never come and the copy would read zeros there, so
/// it is fenced and killed at once, by Ferry, not at the end of its lease.
final class PostcopyArrival: @unchecked Sendable {
    /// Holds the image stream's connection open for the relay.
    private let receiver: ImageStreamReceiver
    private let stream: Int32
    private let listener: OwnedFileDescriptor
    private let daemon: LazyPagesDaemon
    private var watch: BackgroundTask<Void>?

    /// Starts the daemon on `imagesDirectory` (the restore's), ready for the restore.
    init(receiver: ImageStreamReceiver, engine: CRIUEngine, imagesDirectory: String, workDirectory: String) throws(FerryError) {
        guard let stream = receiver.postcopyStream else {
            throw FerryError(.invalidState, "the image stream of a post-copy is not open")
        }
        self.receiver = receiver
        self.stream = stream
        let port: UInt16
        (listener, port) = try TCPSocket.listen(on: LazyPagesServer.address)
        daemon = try LazyPagesDaemon(
            engine: engine, imagesDirectory: imagesDirectory, workDirectory: workDirectory, address: LazyPagesServer.address, port: port,
            within: 30)
    }

    /// Relays the daemon's page server connection and waits for its end (at most `lease`
    /// seconds: past them the copy's monitor fences it anyway). A failure kills `runtime`'s
    /// tasks. Started before the restore: the daemon connects while CRIU restores.
    func start(runtime: ContainerRuntime, lease: Double, removingImages images: String?, logger: Logger) {
        let metadata: Logger.Metadata = ["container": "\(runtime.config.name)"]
        let (layout, cgroup) = (runtime.layout, runtime.cgroup)
        watch = BackgroundTask("ferry post-copy") { [self] () throws(FerryError) in
            var relay: PostcopyRelay?
            do throws(FerryError) {
                guard let local = try TCPSocket.accept(listener, within: lease) else {
                    throw FerryError(.timedOut, "the lazy-pages daemon did not connect within \(Int(lease)) s")
                }
                listener.close()
                let started = PostcopyRelay(stream: stream, local: local, key: receiver.key, side: .target, idleSeconds: lease)
                relay = started
                let relaying = BackgroundTask("ferry post-copy relay") { () throws(FerryError) in try started.run() }
                guard let status = daemon.exitStatus(within: lease) else {
                    throw FerryError(.timedOut, "the post-copy did not end within the lease (\(Int(lease)) s)")
                }
                guard status == 0 else {
                    let why = (try? relaying.value(within: 1, what: "the post-copy relay")).map { _ in "" } ?? "; the relay broke"
                    throw FerryError(.criuFailed, "the lazy-pages daemon exited with status \(status)\(why) (log: \(daemon.logPath))")
                }
                // Every page is in: the relay's end is a formality.
                if case .failure(let error)? = relaying.wait(within: 5) {
                    logger.notice("the post-copy relay ended uncleanly after the last page", metadata: metadata.merging(["error": "\(error.message)"]) { $1 })
                }
                if let images { try? FileManager.default.removeItem(atPath: images) }
            } catch {
                logger.error("post-copy failed: killing the copy", metadata: metadata.merging(["error": "\(error.message)"]) { $1 })
                MigrationLease.fence(layout, cgroup)
                relay?.cancel()
                daemon.kill()
                throw error
            }
        }
    }

    /// The verdict: returns once every page is in; throws (the copy killed) otherwise.
    func outcome(within seconds: Double) throws(FerryError) {
        guard let watch else { throw FerryError(.invalidState, "the post-copy was never started") }
        try watch.value(within: seconds, what: "the post-copy")
    }

    /// A restore that failed, an abort: the daemon goes, nothing of the copy may run.
    func cancel(_ runtime: ContainerRuntime?) {
        if let runtime { MigrationLease.fence(runtime.layout, runtime.cgroup) }
        daemon.kill()
        _ = Glibc.shutdown(stream, Int32(SHUT_RDWR))
        _ = watch?.wait(within: 10)
    }
}

/// The post-copies an agent has in progress, by container.
final class PostcopyArrivals: @unchecked Sendable {
    private let lock = NSLock()
    private var open: [String: PostcopyArrival] = [:]

    func put(_ container: String, _ arrival: PostcopyArrival) {
        lock.withLock { open[container] = arrival }
    }

    func take(_ container: String) -> PostcopyArrival? {
        lock.withLock { open.removeValue(forKey: container) }
    }

    /// Before the agent exits (its source gone): each post-copy runs to its verdict, so a
    /// failed one still kills its copy.
    func settleAll(within seconds: Double) {
        let all = lock.withLock { () -> [PostcopyArrival] in
            defer { open = [:] }
            return Array(open.values)
        }
        for arrival in all { try? arrival.outcome(within: seconds) }
    }
}
