internal import CLinux
import FerryErrors
import Glibc

/// A process Ferry did not necessarily start (a container's init), held by pidfd so a
/// recycled pid can never be signalled by mistake.
public struct ProcessHandle: Sendable {
    public let pid: pid_t
    public let fd: OwnedFileDescriptor

    /// The corresponding C function is `pidfd_open`.
    public init(pid: pid_t) throws(FerryError) {
        self.pid = pid
        self.fd = OwnedFileDescriptor(taking: try syscall("pidfd_open") { fy_pidfd_open(pid, 0) })
    }

    /// The corresponding C function is `pidfd_send_signal`.
    public func signal(_ number: Int32) throws(FerryError) {
        switch valueOrErrno({ fy_pidfd_send_signal(fd.rawValue, number, 0) }) {
        case .success, .failure(.noSuchProcess): return
        case .failure(let errno): throw FerryError.system("pidfd_send_signal", errno)
        }
    }

    /// Waits until the process has exited, at most `seconds`. Returns whether it did.
    public func waitForExit(seconds: Double) -> Bool {
        var entries = [pollfd(fd: fd.rawValue, events: Int16(POLLIN), revents: 0)]
        guard case .success(let ready) = DescriptorIO.poll(&entries, timeout: seconds) else { return false }
        return ready > 0
    }

    /// Kicks every established TCP socket the process holds (see `fy_tcp_kick`): each
    /// sends a window probe now. Returns how many did; sockets it cannot reach are skipped.
    /// The corresponding C functions are `pidfd_getfd` and `setsockopt` (TCP_REPAIR).
    public func kickTCPConnections() -> Int {
        var kicked = 0
        for entry in (try? directoryEntries("/proc/\(pid)/fd")) ?? [] {
            guard let number = Int32(entry), RootedLookup.linkTarget("/proc/\(pid)/fd/\(entry)")?.hasPrefix("socket:") == true else { continue }
            if fy_tcp_kick(fd.rawValue, number) == 1 { kicked += 1 }
        }
        return kicked
    }
}
