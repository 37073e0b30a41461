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
}

/// What /proc says about a process.
public enum ProcFS {
    /// The start time (clock ticks since boot, field 22 of /proc/PID/stat). Ferry stores it
    /// next to a pid so that a pid reused by another process is not mistaken for the init.
    public static func startTime(of pid: pid_t) -> UInt64? {
        guard let text = try? readText("/proc/\(pid)/stat"),
            let close = text.lastIndex(of: ")")
        else { return nil }
        // Fields after the command name (which may contain spaces) start at field 3.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 19 else { return nil }
        return UInt64(fields[19])
    }

    /// Host pids of the threads of a process (used to assert single-threadedness).
    public static func threadCount(of pid: String = "self") -> Int {
        (try? directoryEntries("/proc/\(pid)/task").count) ?? 0
    }

}

/// A monotonic clock in seconds, for timeouts and the timings Ferry reports.
public enum Monotonic {
    public static var now: Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }
}

/// Reads a whole (small) file as text.
public func readText(_ path: String) throws(FerryError) -> String {
    let fd = try OwnedFileDescriptor.open(path, O_RDONLY)
    return String(decoding: try fd.readAll(), as: UTF8.self)
}

/// Writes text to a file, creating or truncating it.
public func writeText(_ path: String, _ text: String, mode: mode_t = 0o644) throws(FerryError) {
    let fd = try OwnedFileDescriptor.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode: mode)
    try fd.write(text)
}

/// The names in a directory, without `.` and `..`.
public func directoryEntries(_ path: String) throws(FerryError) -> [String] {
    guard let dir = opendir(path) else {
        throw FerryError.system("opendir", .init(rawValue: errno), path: path)
    }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names
}
