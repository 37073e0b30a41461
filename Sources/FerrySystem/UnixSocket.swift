internal import CLinux
import FerryErrors
import Glibc

/// Stream sockets on a path (AF_UNIX), for a container's console: the monitor listens, a
/// `ferry console` connects.
///
/// The path is reached through its directory's descriptor (`/proc/self/fd/N/NAME`): a
/// socket address holds 108 bytes, and a deep state root's path does not fit in them.
public enum UnixSocket {
    /// A listening socket at `path`, replacing a stale one left by a monitor that died,
    /// reachable by root only (whoever connects types into the container).
    /// The corresponding C functions are `socket`, `bind` and `listen`.
    public static func listen(at path: String) throws(FerryError) -> OwnedFileDescriptor {
        let socket = try make(path)
        try withAddress(of: path) { (address, length) throws(FerryError) in
            unlink(path)
            let mask = umask(0o177)
            defer { umask(mask) }
            try syscall("bind", path: path) { Glibc.bind(socket.rawValue, address, length) }
        }
        try syscall("listen", path: path) { Glibc.listen(socket.rawValue, 8) }
        return socket
    }

    /// A socket connected to the one listening at `path`.
    /// The corresponding C functions are `socket` and `connect`.
    public static func connect(to path: String) throws(FerryError) -> OwnedFileDescriptor {
        let socket = try make(path)
        try withAddress(of: path) { (address, length) throws(FerryError) in
            try syscall("connect", path: path) { Glibc.connect(socket.rawValue, address, length) }
        }
        return socket
    }

    /// The next connection; nil when none is waiting (the listener is non-blocking) or it
    /// went away before it was taken.
    /// The corresponding C function is `accept`.
    public static func accept(_ listener: OwnedFileDescriptor) -> OwnedFileDescriptor? {
        guard case .success(let fd) = valueOrErrno({ Glibc.accept(listener.rawValue, nil, nil) }) else { return nil }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        return OwnedFileDescriptor(taking: fd)
    }

    private static func make(_ path: String) throws(FerryError) -> OwnedFileDescriptor {
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        return OwnedFileDescriptor(taking: try syscall("socket", path: path) { Glibc.socket(AF_UNIX, type, 0) })
    }

    /// Calls `body` with the address of `path` (through its directory's descriptor, see
    /// above) and its length; the directory stays open for the call.
    private static func withAddress(
        of path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) throws(FerryError) -> Void
    ) throws(FerryError) {
        let slash = path.lastIndex(of: "/")
        let directoryPath = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        let directory = try OwnedFileDescriptor.open(directoryPath, FY_O_PATH | O_DIRECTORY)
        let short = Array("/proc/self/fd/\(directory.rawValue)/\(name)".utf8)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard short.count < capacity else {
            throw FerryError(.invalidArgument, "socket name \(name) in \(directoryPath) is too long for a socket address")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in short.enumerated() { raw[index] = byte }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + short.count + 1)
        // Kept alive across the call: the kernel reads the path through the descriptor.
        try withExtendedLifetime(directory) { () throws(FerryError) in
            try withUnsafePointer(to: &address) { (pointer) throws(FerryError) in
                try body(UnsafeRawPointer(pointer).assumingMemoryBound(to: sockaddr.self), length)
            }
        }
    }
}
