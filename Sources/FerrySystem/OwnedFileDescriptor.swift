internal import CLinux
import FerryErrors
import Glibc
import SystemPackage

/// A file descriptor that closes itself when its last reference goes away.
///
/// Ferry passes descriptors between mount-API calls (open_tree → move_mount, openat2 → mount
/// target); owning them in one type means an early `throw` never leaks one into a container.
public final class OwnedFileDescriptor: @unchecked Sendable {
    public private(set) var rawValue: Int32

    public init(taking rawValue: Int32) {
        precondition(rawValue >= 0, "OwnedFileDescriptor needs a valid descriptor")
        self.rawValue = rawValue
    }

    deinit {
        if rawValue >= 0 { _ = Glibc.close(rawValue) }
    }

    /// Closes the descriptor now (for pipe ends whose peer must see end of file).
    public func close() {
        if rawValue >= 0 { _ = Glibc.close(rawValue) }
        rawValue = -1
    }


    /// Opens a path with O_CLOEXEC always added.
    public static func open(
        _ path: String, _ flags: Int32, mode: mode_t = 0o644
    ) throws(FerryError) -> OwnedFileDescriptor {
        let fd = try syscall("open", path: path) { Glibc.open(path, flags | O_CLOEXEC, mode) }
        return OwnedFileDescriptor(taking: fd)
    }

    /// A duplicate of a descriptor this process holds (stdin, stdout), owned; an error,
    /// not a crash, when it is not open (`ferry agent >&-`).
    /// The corresponding C function is `fcntl(F_DUPFD_CLOEXEC)`.
    public static func duplicate(_ fd: Int32, what: String) throws(FerryError) -> OwnedFileDescriptor {
        let copy = try syscall("dup", path: what) { fcntl(fd, F_DUPFD_CLOEXEC, 0) }
        return OwnedFileDescriptor(taking: copy)
    }

    /// `/proc/self/fd/N`: a path that names exactly this open file, for calls that take paths.
    public var procPath: String { "/proc/self/fd/\(rawValue)" }

    public func stat() throws(FerryError) -> Glibc.stat {
        var result = Glibc.stat()
        try syscall("fstat") { Glibc.fstat(rawValue, &result) }
        return result
    }

    public func write(_ string: String) throws(FerryError) {
        if case .failure(let errno) = DescriptorIO.writeAll(rawValue, Array(string.utf8)[...]) {
            throw FerryError.system("write", errno)
        }
    }

    /// Takes an exclusive lock on the open file without waiting; fails with `.wouldBlock`
    /// while another open file description holds one. The corresponding C function is
    /// `flock` (LOCK_EX | LOCK_NB).
    public func tryLockExclusively() -> Result<Void, Errno> {
        valueOrErrno { flock(rawValue, LOCK_EX | LOCK_NB) }.map { _ in }
    }

    /// Reads until end of file.
    public func readAll() throws(FerryError) -> [UInt8] {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            switch DescriptorIO.read(rawValue, into: &chunk) {
            case .success(0): return result
            case .success(let count): result.append(contentsOf: chunk[0..<count])
            case .failure(let errno): throw FerryError.system("read", errno)
            }
        }
    }
}

/// Creates a pipe whose ends close on exec.
public func makePipe() throws(FerryError) -> (read: OwnedFileDescriptor, write: OwnedFileDescriptor) {
    var fds: [Int32] = [-1, -1]
    try syscall("pipe2") { fy_pipe2_cloexec(&fds) }
    return (OwnedFileDescriptor(taking: fds[0]), OwnedFileDescriptor(taking: fds[1]))
}
