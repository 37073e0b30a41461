import FerryErrors
import Glibc
import SystemPackage

/// TCP sockets by numeric address (IPv6 or IPv4), for the one bulk channel Ferry opens
/// itself: a migration's image stream between two hosts that already trust each other
/// over ssh. Every descriptor is owned and closes on exec.
public enum TCPSocket {
    /// A socket listening on `address` at a port the kernel chooses; returns it and the port.
    /// The corresponding C functions are `socket`, `bind`, `listen` and `getsockname`.
    public static func listen(on address: String) throws(FerryError) -> (socket: OwnedFileDescriptor, port: UInt16) {
        let endpoint = try Endpoint(address, port: 0)
        let socket = OwnedFileDescriptor(taking: try syscall("socket") { Glibc.socket(endpoint.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) })
        try endpoint.withAddress { address, length throws(FerryError) in
            _ = try syscall("bind", path: "[\(endpoint.text)]") { Glibc.bind(socket.rawValue, address, length) }
        }
        _ = try syscall("listen") { Glibc.listen(socket.rawValue, 4) }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = try syscall("getsockname") {
            withUnsafeMutablePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket.rawValue, $0, &length) } }
        }
        let port = withUnsafePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
        }
        return (socket, port)
    }

    /// The next connection on a listening socket, or nil when none came within `seconds`.
    /// The corresponding C function is `accept` (then FD_CLOEXEC: no helper inherits it).
    public static func accept(_ listener: OwnedFileDescriptor, within seconds: Double) throws(FerryError) -> OwnedFileDescriptor? {
        var entries = [pollfd(fd: listener.rawValue, events: Int16(POLLIN), revents: 0)]
        switch DescriptorIO.poll(&entries, timeout: seconds) {
        case .success(0): return nil
        case .success: break
        case .failure(let errno): throw FerryError.system("poll(accept)", errno)
        }
        let fd = try syscall("accept") { Glibc.accept(listener.rawValue, nil, nil) }
        let socket = OwnedFileDescriptor(taking: fd)
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        setNoDelay(socket)
        return socket
    }

    /// A connection to `address`:`port`, given up after `seconds`.
    /// The corresponding C function is `connect` (non-blocking, then poll).
    public static func connect(to address: String, port: UInt16, within seconds: Double) throws(FerryError) -> OwnedFileDescriptor {
        let endpoint = try Endpoint(address, port: port)
        let socket = OwnedFileDescriptor(taking: try syscall("socket") { Glibc.socket(endpoint.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) })
        let flags = fcntl(socket.rawValue, F_GETFL)
        _ = fcntl(socket.rawValue, F_SETFL, flags | O_NONBLOCK)
        let result = endpoint.withAddress { address, length in Glibc.connect(socket.rawValue, address, length) }
        if result != 0 && errno != EINPROGRESS {
            throw FerryError.system("connect", Errno(rawValue: errno), path: "[\(endpoint.text)]:\(port)")
        }
        if result != 0 {
            var entries = [pollfd(fd: socket.rawValue, events: Int16(POLLOUT), revents: 0)]
            guard case .success(let ready) = DescriptorIO.poll(&entries, timeout: seconds), ready > 0 else {
                throw FerryError(.timedOut, "no TCP connection to [\(endpoint.text)]:\(port) within \(Int(seconds)) s")
            }
            var failure: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(socket.rawValue, SOL_SOCKET, SO_ERROR, &failure, &length)
            if failure != 0 { throw FerryError.system("connect", Errno(rawValue: failure), path: "[\(endpoint.text)]:\(port)") }
        }
        _ = fcntl(socket.rawValue, F_SETFL, flags)
        setNoDelay(socket)
        return socket
    }

    /// The two ends of a connected local stream pair (CRIU's side of a relay and Ferry's),
    /// with 4 MiB buffers: CRIU splices its page pipes (4 MiB) into it, and a default
    /// 200 KiB buffer would wake the relay twenty times per pipe.
    /// The corresponding C function is `socketpair`.
    public static func streamPair() throws(FerryError) -> (OwnedFileDescriptor, OwnedFileDescriptor) {
        var fds: [Int32] = [-1, -1]
        try syscall("socketpair") { socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) }
        for fd in fds { setBuffers(fd, bytes: 4 << 20) }
        return (OwnedFileDescriptor(taking: fds[0]), OwnedFileDescriptor(taking: fds[1]))
    }

    /// Send and receive buffers of `bytes` (the FORCE variants: root is not bound by
    /// net.core.[rw]mem_max); a refusal keeps the kernel's defaults.
    private static func setBuffers(_ fd: Int32, bytes: Int32) {
        var size = bytes
        let length = socklen_t(MemoryLayout<Int32>.size)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, length)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, length)
    }

    /// A send that makes no progress for `seconds` fails (EAGAIN) instead of waiting for
    /// TCP to give up on a cut link (many minutes).
    /// The corresponding C function is `setsockopt` (SO_SNDTIMEO).
    public static func setSendTimeout(_ socket: OwnedFileDescriptor, seconds: Int) {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(socket.rawValue, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Stops both directions (the peer's reads end) without closing the descriptor.
    /// The corresponding C function is `shutdown`.
    public static func shutdown(_ socket: OwnedFileDescriptor) {
        _ = Glibc.shutdown(socket.rawValue, Int32(SHUT_RDWR))
    }

    /// Small frames (a handshake, an ack) leave at once.
    private static func setNoDelay(_ socket: OwnedFileDescriptor) {
        var one: Int32 = 1
        setsockopt(socket.rawValue, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    /// A numeric address and port as a sockaddr.
    private struct Endpoint {
        var text: String
        var family: Int32
        var v6 = sockaddr_in6()
        var v4 = sockaddr_in()

        init(_ address: String, port: UInt16) throws(FerryError) {
            text = address
            if inet_pton(AF_INET6, address, &v6.sin6_addr) == 1 {
                family = AF_INET6
                v6.sin6_family = sa_family_t(AF_INET6)
                v6.sin6_port = port.bigEndian
            } else if inet_pton(AF_INET, address, &v4.sin_addr) == 1 {
                family = AF_INET
                v4.sin_family = sa_family_t(AF_INET)
                v4.sin_port = port.bigEndian
            } else {
                throw FerryError(.invalidArgument, "'\(address)' is not a numeric IPv6 or IPv4 address")
            }
        }

        func withAddress<T, E: Error>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws(E) -> T) throws(E) -> T {
            var copy = self
            if family == AF_INET6 {
                return try withUnsafePointer(to: &copy.v6) { (pointer) throws(E) -> T in
                    try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { (address) throws(E) -> T in
                        try body(address, socklen_t(MemoryLayout<sockaddr_in6>.size))
                    }
                }
            }
            return try withUnsafePointer(to: &copy.v4) { (pointer) throws(E) -> T in
                try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { (address) throws(E) -> T in
                    try body(address, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
    }
}
