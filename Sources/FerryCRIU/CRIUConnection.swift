import FerryErrors
import FerrySystem
import Glibc

/// One `criu swrk` process and the SOCK_SEQPACKET socket Ferry talks to it over.
///
/// swrk ("service worker") serves exactly one client on an inherited socket, so every
/// operation gets a fresh CRIU process that is the caller's child: a restored tree can then
/// be made the caller's child too (`rst_sibling`), and a hung CRIU can be killed by pid.
public final class CRIUConnection {
    public let pid: pid_t
    private let socket: OwnedFileDescriptor
    private var exited = false

    /// Starts `criu swrk 3` with its end of a socketpair as descriptor 3; `extraDescriptors`
    /// follow at 4, 5, … (a page server's socket, which CRIU uses by number).
    public init(engine: CRIUEngine, logDescriptor: Int32? = nil, extraDescriptors: [Int32] = []) throws(FerryError) {
        var fds: [Int32] = [-1, -1]
        let type = Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        try syscall("socketpair") { socketpair(AF_UNIX, type, 0, &fds) }
        let ours = OwnedFileDescriptor(taking: fds[0])
        let theirs = OwnedFileDescriptor(taking: fds[1])
        pid = try Spawn.start(
            Spawn.diesWithParent([engine.path, "swrk", "3"]), stdout: logDescriptor, stderr: logDescriptor, extraDescriptors: [theirs.rawValue] + extraDescriptors,
            onInterrupt: .runsToItsEnd)
        theirs.close()
        socket = ours
    }

    deinit {
        if !exited {
            _ = Glibc.kill(pid, SIGKILL)
            _ = try? Spawn.wait(pid)
        }
    }

    public func send(_ bytes: [UInt8]) throws(FerryError) {
        let sent = try syscall("send(criu)") {
            bytes.withUnsafeBytes { Glibc.send(socket.rawValue, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        }
        guard sent == bytes.count else {
            throw FerryError(.criuFailed, "short write to CRIU (\(sent) of \(bytes.count) bytes)")
        }
    }

    /// Receives one whole message, sized first with MSG_PEEK|MSG_TRUNC so no reply is cut.
    /// Returns nil when CRIU closed the socket (it exited).
    public func receive(timeout seconds: Double? = nil) throws(FerryError) -> [UInt8]? {
        if let seconds {
            var entries = [pollfd(fd: socket.rawValue, events: Int16(POLLIN), revents: 0)]
            let ready = DescriptorIO.poll(&entries, timeout: seconds)
            if case .failure(let errno) = ready { throw FerryError.system("poll(criu)", errno) }
            if case .success(0) = ready {
                throw FerryError(.timedOut, "CRIU (pid \(pid)) did not answer within \(Int(seconds)) s")
            }
        }
        var probe: UInt8 = 0
        let size = try syscall("recv(criu, peek)") {
            Glibc.recv(socket.rawValue, &probe, 1, Int32(MSG_PEEK | MSG_TRUNC))
        }
        if size == 0 { return nil }
        var buffer = [UInt8](repeating: 0, count: size)
        let received = try syscall("recv(criu)") {
            buffer.withUnsafeMutableBytes { Glibc.recv(socket.rawValue, $0.baseAddress, $0.count, 0) }
        }
        return Array(buffer[0..<received])
    }

    /// Kills CRIU (the watchdog fired) and reaps it.
    public func kill() {
        _ = Glibc.kill(pid, SIGKILL)
        finish()
    }

    /// Waits for CRIU to exit (after it answered) and returns its exit status.
    @discardableResult
    public func finish() -> Int32 {
        socket.close()
        let status = (try? Spawn.wait(pid)) ?? 0
        exited = true
        return status
    }
}
