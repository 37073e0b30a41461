import FerryErrors
import FerrySystem
import Glibc

/// Where a post-copy dump serves the memory it left in the frozen tasks: CRIU's own page
/// server, listening on this host's loopback only, for Ferry's relay to reach.
///
/// Over RPC a lazy dump ignores `ps.address` (it would listen on every address, to anyone
/// who connects first); a config file's `address` is read after the request and stays, so
/// the listener is bound to 127.0.0.1. CRIU does not report the port it listens on, so
/// Ferry picks a free one first.
public struct LazyPagesServer: Sendable {
    public static let address = "127.0.0.1"
    public let port: UInt16
    /// The config file the dump request names (written by `prepare`).
    public let configFile: String

    /// Picks a free loopback port and writes the config file at `configFile`.
    public static func prepare(configFile: String) throws(FerryError) -> LazyPagesServer {
        let (probe, port) = try TCPSocket.listen(on: address)
        probe.close()
        try writeText(configFile, "address \(address)\n", mode: 0o600)
        return LazyPagesServer(port: port, configFile: configFile)
    }
}

/// The target's `criu lazy-pages` daemon of a post-copy restore: it takes the restored
/// tasks' userfaultfds over `lazy-pages.socket` in the work directory, fetches the pages
/// they fault on (and then all the others) from a page server, and exits 0 once every
/// page is in. Its exit status is the verdict on the copy: non-zero means some pages will
/// never come, and the tasks would read zeros there.
public final class LazyPagesDaemon: @unchecked Sendable {
    public let pid: pid_t
    public let logPath: String
    private let handle: ProcessHandle

    /// Starts the daemon for the images in `imagesDirectory`, fetching from the page server
    /// at `address`:`port`, and waits until it listens for the restore.
    public init(
        engine: CRIUEngine, imagesDirectory: String, workDirectory: String, address: String, port: UInt16, within seconds: Double
    ) throws(FerryError) {
        logPath = "\(workDirectory)/lazy-pages.log"
        let (ready, writeEnd) = try makePipe()
        // Its own process group: a Ctrl-C of the agent's session is the agent's to handle
        // (the daemon's end decides what happens to the copy, never a stray signal).
        pid = try Spawn.start(
            [
                engine.path, "lazy-pages", "--page-server", "--address", address, "--port", "\(port)", "-D", imagesDirectory, "-W", workDirectory,
                "-o", "lazy-pages.log", "-v4", "--status-fd", "3",
            ], extraDescriptors: [writeEnd.rawValue], onInterrupt: .runsToItsEnd)
        writeEnd.close()
        do throws(FerryError) {
            handle = try ProcessHandle(pid: pid)
        } catch {
            Glibc.kill(pid, SIGKILL)
            _ = try? Spawn.wait(pid)
            throw error
        }
        var entries = [pollfd(fd: ready.rawValue, events: Int16(POLLIN), revents: 0)]
        var byte: [UInt8] = [1]
        guard case .success(let count) = DescriptorIO.poll(&entries, timeout: seconds), count > 0,
            case .success(1) = DescriptorIO.read(ready.rawValue, into: &byte)
        else {
            Glibc.kill(pid, SIGKILL)
            _ = try? Spawn.wait(pid)
            throw FerryError(.criuFailed, "the CRIU lazy-pages daemon did not get ready (log: \(logPath))")
        }
    }

    /// Waits for the daemon's end: its exit status (0: every page is in), or nil when it
    /// was still running after `seconds` (it is then killed).
    public func exitStatus(within seconds: Double) -> Int32? {
        if handle.waitForExit(seconds: seconds), let status = Spawn.reapIfExited(pid) { return status }
        kill()
        return nil
    }

    /// Ends the daemon at once (a restore that failed).
    public func kill() {
        try? handle.signal(SIGKILL)
        _ = try? Spawn.wait(pid)
    }
}
