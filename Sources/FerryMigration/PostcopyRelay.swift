import FerryErrors
import FerrySystem
import Glibc

/// Post-copy's traffic on the image stream, once the target accepted the images: CRIU's
/// lazy-pages protocol between the target's `criu lazy-pages` daemon and the source's lazy
/// dump, both reached on their host's loopback, relayed both ways over the one
/// authenticated connection.
///
/// Unlike the dump's page stream, these pages are used the moment they arrive (a task is
/// waiting on the fault), so a MAC at the end would come too late: every frame carries its
/// own tag, HMAC-SHA256(key, direction ‖ sequence number ‖ header ‖ payload). A frame
/// forged, changed, dropped, replayed or sent back the other way fails its tag, and the
/// relay stops: the daemon's page server connection breaks, and the daemon fails.
///
/// Each direction ends with an `end` frame when its local peer closed; a relay is done when
/// both have ended. Both sides run the same loop.
final class PostcopyRelay: @unchecked Sendable {
    enum Side: UInt8 {
        case source = 0x53
        case target = 0x54

        var peer: Side { self == .source ? .target : .source }
    }

    private let stream: Int32
    private let local: OwnedFileDescriptor
    private let key: [UInt8]
    private let side: Side
    /// Past this much silence on both ends the peer is taken as gone (a cut link sends
    /// nothing, not even a reset).
    private let idleSeconds: Double

    /// `stream`: the image stream's socket (owned by its sender or receiver); `local`: the
    /// connection to this host's CRIU.
    init(stream: Int32, local: OwnedFileDescriptor, key: [UInt8], side: Side, idleSeconds: Double) {
        self.stream = stream
        self.local = local
        self.key = key
        self.side = side
        self.idleSeconds = idleSeconds
    }

    /// Relays until both directions ended; returns the payload bytes that came from the
    /// peer. Any failure breaks the local connection first, so CRIU there fails too.
    func run() throws(FerryError) -> UInt64 {
        do throws(FerryError) {
            return try relay()
        } catch {
            cancel()
            throw error
        }
    }

    /// Breaks both connections (a failed or abandoned post-copy).
    func cancel() {
        TCPSocket.shutdown(local)
        _ = Glibc.shutdown(stream, Int32(SHUT_RDWR))
    }

    private func relay() throws(FerryError) -> UInt64 {
        let io = StreamIO(fd: stream)
        var buffer = [UInt8](repeating: 0, count: ImageStream.blockBytes)
        var sent: UInt64 = 0
        var received: UInt64 = 0
        var localEnded = false
        var peerEnded = false
        while !(localEnded && peerEnded) {
            var entries = [
                pollfd(fd: localEnded ? -1 : local.rawValue, events: Int16(POLLIN), revents: 0),
                pollfd(fd: peerEnded ? -1 : stream, events: Int16(POLLIN), revents: 0),
            ]
            guard case .success(let ready) = DescriptorIO.poll(&entries, timeout: idleSeconds), ready > 0 else {
                throw FerryError(.timedOut, "the post-copy went silent for \(Int(idleSeconds)) s (the link to the other host is down?)")
            }
            if entries[0].revents != 0 {
                switch DescriptorIO.read(local.rawValue, into: &buffer) {
                case .success(0), .failure(.connectionReset):
                    try sendFrame(.end, [], sequence: sent, io)
                    localEnded = true
                case .success(let count):
                    try sendFrame(.pages, buffer[..<count], sequence: sent, io)
                case .failure(let errno):
                    throw FerryError.system("read(criu lazy pages)", errno)
                }
                sent += 1
            }
            if entries[1].revents != 0 {
                let (kind, payload) = try receiveFrame(sequence: received, io)
                received += 1
                switch kind {
                case .pages:
                    if case .failure(let errno) = DescriptorIO.writeAll(local.rawValue, payload[...]) {
                        throw FerryError.system("write(criu lazy pages)", errno)
                    }
                case .end:
                    _ = Glibc.shutdown(local.rawValue, Int32(SHUT_WR))
                    peerEnded = true
                default:
                    throw FerryError(.corrupt, "the post-copy carries a record it must not (\(kind))")
                }
            }
        }
        return received
    }

    private func tag(_ direction: Side, _ sequence: UInt64, _ header: [UInt8], _ payload: ArraySlice<UInt8>) throws(FerryError) -> [UInt8] {
        let mac = try Digest(key: key)
        mac.update([direction.rawValue] + ImageStream.bigEndian(sequence) + header)
        payload.withUnsafeBytes { mac.update($0) }
        return mac.finish()
    }

    private func sendFrame(_ kind: ImageStream.Kind, _ payload: ArraySlice<UInt8>, sequence: UInt64, _ io: StreamIO) throws(FerryError) {
        let header = ImageStream.header(kind, length: payload.count)
        try io.write(header)
        try io.write(payload)
        try io.write(try tag(side, sequence, header, payload))
    }

    private func receiveFrame(sequence: UInt64, _ io: StreamIO) throws(FerryError) -> (ImageStream.Kind, [UInt8]) {
        let header = try io.read(5)
        guard let (kind, length) = ImageStream.decodeHeader(header), length <= ImageStream.blockBytes else {
            throw FerryError(.corrupt, "the post-copy carries a record Ferry does not know (\(header))")
        }
        let payload = try io.read(length)
        let theirs = try io.read(ImageStream.macBytes)
        guard Digest.equalInConstantTime(theirs, try tag(side.peer, sequence, header, payload[...])) else {
            throw FerryError(.corrupt, "a post-copy frame failed its MAC: bytes were damaged or changed on the way")
        }
        return (kind, payload)
    }
}
