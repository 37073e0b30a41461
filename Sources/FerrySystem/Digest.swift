import CDigest
import FerryErrors
import Glibc

/// SHA-256, plain or keyed (HMAC-SHA256), computed in process by libcrypto with the CPU's
/// SHA extensions: the image stream of a migration is authenticated in the same pass as it
/// crosses, and small files are hashed without starting a sha256sum.
public final class Digest {
    private let context: OpaquePointer
    private var finished = false

    /// A plain SHA-256.
    public convenience init() throws(FerryError) {
        try self.init(key: nil)
    }

    /// An HMAC-SHA256 keyed with `key`; nil: a plain SHA-256.
    public init(key: [UInt8]?) throws(FerryError) {
        let made: OpaquePointer? =
            if let key { key.withUnsafeBufferPointer { fy_digest_new($0.baseAddress, $0.count) } } else { fy_digest_new(nil, 0) }
        guard let made else { throw FerryError(.kernelUnsupported, "libcrypto cannot make a SHA-256 context (is libssl3 installed?)") }
        context = made
    }

    deinit { fy_digest_free(context) }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        precondition(!finished, "a finished digest was updated")
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        // libcrypto fails an update only on a context it could not make, refused in init.
        _ = fy_digest_update(context, base, bytes.count)
    }

    public func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The 32-byte result; the digest takes no more bytes after it.
    public func finish() -> [UInt8] {
        precondition(!finished, "a digest was finished twice")
        finished = true
        var out = [UInt8](repeating: 0, count: 32)
        _ = out.withUnsafeMutableBufferPointer { fy_digest_final(context, $0.baseAddress) }
        return out
    }

    /// Lower-case hex, as sha256sum prints it.
    public static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }

    /// Compares two MACs in time that does not depend on where they differ.
    public static func equalInConstantTime(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        return zip(a, b).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    /// The SHA-256 of a file's contents, read in 1 MiB blocks.
    public static func sha256(ofFile path: String) throws(FerryError) -> String {
        let file = try OwnedFileDescriptor.open(path, O_RDONLY)
        let digest = try Digest()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            switch DescriptorIO.read(file.rawValue, into: &buffer) {
            case .success(0):
                return hex(digest.finish())
            case .success(let count):
                buffer.withUnsafeBytes { digest.update(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
            case .failure(let errno):
                throw FerryError.system("read", errno, path: path)
            }
        }
    }
}
