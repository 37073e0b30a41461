import FerrySystem
import Foundation
import Testing

/// libcrypto's SHA-256 and HMAC-SHA256 through Ferry's wrapper, against published vectors.
@Suite struct DigestTests {
    @Test func sha256OfABCIsTheFIPSVector() throws {
        let digest = try Digest()
        digest.update(Array("abc".utf8))
        #expect(Digest.hex(digest.finish()) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    /// RFC 4231, test case 2 ("Jefe").
    @Test func hmacSHA256IsRFC4231() throws {
        let mac = try Digest(key: Array("Jefe".utf8))
        mac.update(Array("what do ya want ".utf8))
        mac.update(Array("for nothing?".utf8))
        #expect(Digest.hex(mac.finish()) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test func constantTimeComparisonSeesEveryByte() {
        let a: [UInt8] = Array(repeating: 7, count: 32)
        var b = a
        #expect(Digest.equalInConstantTime(a, b))
        b[31] ^= 1
        #expect(!Digest.equalInConstantTime(a, b))
        #expect(!Digest.equalInConstantTime(a, Array(a.prefix(31))))
    }

    @Test func fileChecksumMatchesSha256sum() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-digest-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        // More than one read block, so the loop's joins are covered.
        let bytes = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let whole = try Digest()
        whole.update(bytes)
        #expect(try Digest.sha256(ofFile: path) == Digest.hex(whole.finish()))
    }
}
