import FerryCheckpoint
import FerryErrors
import FerrySystem
import Glibc

/// The wire format of a migration's image stream: one TCP connection from the source to
/// the target's agent, opened by Ferry for the frozen window's bulk bytes, next to the ssh
/// channel that carries the control requests.
///
/// Why not through ssh: a plain socket moves 1.2–1.4 GiB/s over the test hosts' veth, ssh's
/// cipher a fraction of that, and the memory is most of the frozen window. Why not CRIU's
/// own page server port: it takes any connection. So:
/// - The source makes a fresh 32-byte key and hands it to the agent over ssh (secret and
///   authenticated there). The agent listens on the address the ssh connection reached.
/// - The agent sends a 16-byte nonce; the source answers HMAC-SHA256(key, greeting ‖ nonce).
///   A connection that cannot is dropped, and the agent waits for the next.
/// - Then frames (`Frame.Kind`, a 4-byte big-endian length, the payload): CRIU's page
///   stream as it is dumped, then every other image file, then `end` with the HMAC of the
///   nonce and every byte before it. The target refuses to restore unless that MAC matches:
///   a corrupted, truncated or forged stream never reaches CRIU's restore.
/// - The target answers one verdict byte; CRIU's page server acknowledgements travel back
///   raw on the same socket while the pages flow.
/// - Post-copy: no page stream during the dump; after an accepted verdict the connection
///   carries CRIU's lazy-pages traffic both ways, each frame with its own MAC (see
///   PostcopyRelay).
enum ImageStream {
    static let keyBytes = 32
    static let nonceBytes = 16
    static let macBytes = 32
    static let greeting = Array("ferry image stream 1".utf8)
    /// A page frame carries at most this much (the relay reads CRIU's socket in such blocks).
    static let blockBytes = 1 << 20
    /// How long either side waits for the next byte before it takes the other as gone.
    static let idleSeconds = 60.0
    /// How long a send may make no progress (a cut link) before the stream is broken: on a
    /// working link a full socket buffer drains in milliseconds.
    static let stallSeconds = 20
    /// The source's page stream spool (see ImageStreamSender), kept beside the images for
    /// a rollback and never sent as an image.
    static let spoolName = CheckpointManifest.pageSpoolName

    enum Kind: UInt8 {
        /// Bytes of CRIU's page stream.
        case pages = 0x50
        /// A new image file: its name.
        case open = 0x4F
        /// The next bytes of the open file.
        case data = 0x44
        /// The open file is complete: its size, 8 bytes big-endian.
        case close = 0x43
        /// The stream's MAC; nothing follows.
        case end = 0x45
    }

    enum Verdict: UInt8 {
        case accepted = 0
        case macMismatch = 1
        case pageServerFailed = 2
        case badFile = 3

        var explanation: String {
            switch self {
            case .accepted: "accepted"
            case .macMismatch: "the image stream's MAC does not match: bytes were damaged or changed on the way"
            case .pageServerFailed: "the target's CRIU page server failed on the page stream (a stream cut short)"
            case .badFile: "an image file arrived damaged or with an unsafe name"
            }
        }
    }

    static func header(_ kind: Kind, length: Int) -> [UInt8] {
        let size = UInt32(length)
        return [kind.rawValue, UInt8(size >> 24), UInt8((size >> 16) & 0xff), UInt8((size >> 8) & 0xff), UInt8(size & 0xff)]
    }

    /// Decodes a 5-byte header; nil for a kind this version does not know.
    static func decodeHeader(_ bytes: [UInt8]) -> (Kind, Int)? {
        guard bytes.count == 5, let kind = Kind(rawValue: bytes[0]) else { return nil }
        let length = Int(bytes[1]) << 24 | Int(bytes[2]) << 16 | Int(bytes[3]) << 8 | Int(bytes[4])
        return (kind, length)
    }

    static func bigEndian(_ value: UInt64) -> [UInt8] {
        (0..<8).map { UInt8((value >> (56 - 8 * UInt64($0))) & 0xff) }
    }

    static func decodeBigEndian(_ bytes: [UInt8]) -> UInt64 {
        bytes.reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// The source's answer to the agent's nonce.
    static func proof(key: [UInt8], nonce: [UInt8]) throws(FerryError) -> [UInt8] {
        let mac = try Digest(key: key)
        mac.update(greeting)
        mac.update(nonce)
        return mac.finish()
    }

    /// An image file name the target may create in its images directory: one plain name.
    static func isSafeFileName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 255 && !name.contains("/") && !name.hasPrefix(".") && !name.contains("\0") && name != spoolName
    }

    /// Fresh random bytes from the kernel's generator.
    static func randomBytes(_ count: Int) throws(FerryError) -> [UInt8] {
        let source = try OwnedFileDescriptor.open("/dev/urandom", O_RDONLY)
        return try StreamIO(fd: source.rawValue).read(count)
    }
}

/// Reads and writes whole byte counts on a socket, with the stream's idle limit.
struct StreamIO {
    let fd: Int32

    func write(_ bytes: UnsafeRawBufferPointer) throws(FerryError) {
        var offset = 0
        while offset < bytes.count {
            switch valueOrErrno({ Glibc.send(fd, bytes.baseAddress?.advanced(by: offset), bytes.count - offset, Int32(MSG_NOSIGNAL)) }) {
            case .success(let sent): offset += sent
            case .failure(let errno): throw FerryError(.commandFailed, "the image stream broke: \(errno)", cause: .errno(errno, call: "send", path: nil))
            }
        }
    }

    func write(_ bytes: [UInt8]) throws(FerryError) {
        try write(bytes[...])
    }

    func write(_ bytes: ArraySlice<UInt8>) throws(FerryError) {
        let result = bytes.withUnsafeBytes { raw in Result { () throws(FerryError) in try write(raw) } }
        try result.get()
    }

    /// Exactly `count` bytes, or an error when the peer closed or went silent.
    func read(_ count: Int, into buffer: inout [UInt8]) throws(FerryError) {
        var offset = 0
        while offset < count {
            var entries = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0)]
            guard case .success(let ready) = DescriptorIO.poll(&entries, timeout: ImageStream.idleSeconds), ready > 0 else {
                throw FerryError(.timedOut, "the image stream went silent for \(Int(ImageStream.idleSeconds)) s")
            }
            let got = buffer.withUnsafeMutableBytes { raw in
                valueOrErrno { Glibc.read(fd, raw.baseAddress?.advanced(by: offset), count - offset) }
            }
            switch got {
            case .success(0): throw FerryError(.corrupt, "the image stream ended early (\(offset) of \(count) bytes of a record)")
            case .success(let n): offset += n
            case .failure(let errno): throw FerryError(.commandFailed, "the image stream broke: \(errno)", cause: .errno(errno, call: "read", path: nil))
            }
        }
    }

    func read(_ count: Int) throws(FerryError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        try read(count, into: &buffer)
        return buffer
    }
}
