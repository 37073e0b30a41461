import FerryCRIU
import FerryCheckpoint
import FerryContainers
import FerryErrors
import FerrySystem
import Foundation
import Glibc

/// The source's side of a post-copy (`--postcopy`): CRIU's lazy dump, running on a thread
/// of its own from the freeze until the target's daemon has every page, and the relay
/// between its loopback page server and the image stream.
///
/// The source's tasks stay frozen all along (`keepFrozen`, and frozen again once CRIU has
/// seized them: see Checkpointer). CRIU never kills them; the migration decides: stopped
/// after the commit, thawed after the target's copy is certainly dead.
final class LazyDumpSession: @unchecked Sendable {
    let server: LazyPagesServer
    private let serving = NSCondition()
    private var isServing = false
    private var dump: BackgroundTask<Checkpointer.Result>?
    private var relay: (relay: PostcopyRelay, task: BackgroundTask<UInt64>)?
    /// The frozen-phase sync and the moment of the freeze, set from the dump's thread.
    private(set) var frozenAt: Double?
    private(set) var finalSync: BackgroundTask<UInt64>?

    init(configFile: String) throws(FerryError) {
        server = try LazyPagesServer.prepare(configFile: configFile)
    }

    /// Starts the dump and waits until CRIU serves the memory (its images then complete);
    /// throws the dump's error if it ended first.
    func start(
        _ checkpointer: Checkpointer, name: ContainerName, images: String, sync: (@Sendable () throws(FerryError) -> UInt64)?,
        events: (@Sendable (MigrationEvent) -> Void)?, within seconds: Double
    ) throws(FerryError) {
        let lazy = LazyDump(server: server) { [self] in markServing() }
        // Handed over: only the dump's thread uses it from here on.
        nonisolated(unsafe) let checkpointer = checkpointer
        dump = BackgroundTask("ferry lazy dump") { [self] () throws(FerryError) -> Checkpointer.Result in
            defer { markServing() }
            return try checkpointer.checkpoint(
                name, to: images, leaveRunning: false, fingerprint: .everyFile, lockHeld: true, keepFrozen: true, lazyPages: lazy,
                whileFrozen: { () throws(FerryError) in
                    // Frozen from here: the sync of what changed runs beside the dump.
                    self.frozenAt = Monotonic.now
                    events?(.frozenStarted)
                    self.finalSync = sync.map { job in BackgroundTask("ferry final sync") { () throws(FerryError) in try job() } }
                })
        }
        serving.lock()
        let deadline = Date(timeIntervalSinceNow: seconds)
        while !isServing, serving.wait(until: deadline) {}
        let served = isServing
        serving.unlock()
        guard served else { throw FerryError(.timedOut, "CRIU's lazy dump did not start serving within \(Int(seconds)) s") }
        if let dump, dump.isFinished {
            _ = try dump.value(within: 0, what: "the lazy dump")
            throw FerryError(.criuFailed, "CRIU's lazy dump ended before it served the memory")
        }
    }

    /// Connects to CRIU's page server and relays it over `stream` (after the target's
    /// verdict on the images), until both sides end.
    func startRelay(stream: Int32, key: [UInt8], idleSeconds: Double) throws(FerryError) {
        let local = try TCPSocket.connect(to: LazyPagesServer.address, port: server.port, within: 10)
        let relay = PostcopyRelay(stream: stream, local: local, key: key, side: .source, idleSeconds: idleSeconds)
        self.relay = (relay, BackgroundTask("ferry post-copy relay") { () throws(FerryError) in try relay.run() })
    }

    /// Once the target's daemon had every page: waits for the relay and the dump to end.
    func finish(within seconds: Double) throws(FerryError) {
        defer { unlink(server.configFile) }
        if let relay { _ = try relay.task.value(within: seconds, what: "the post-copy relay") }
        _ = try dump?.value(within: seconds, what: "CRIU's lazy dump")
    }

    /// A failed post-copy: breaks CRIU's page server connection (or its wait for one) so the
    /// dump fails and lets go of the tasks, and waits for that. The tasks stay frozen.
    func end(within seconds: Double) {
        defer { unlink(server.configFile) }
        if let relay {
            relay.relay.cancel()
        } else if let dump, !dump.isFinished {
            // CRIU waits in accept(): a connection that closes at once ends its session.
            (try? TCPSocket.connect(to: LazyPagesServer.address, port: server.port, within: 2))?.close()
        }
        _ = dump?.wait(within: seconds)
    }

    private func markServing() {
        serving.lock()
        isServing = true
        serving.broadcast()
        serving.unlock()
    }
}
