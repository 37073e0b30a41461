import Testing

@testable import FerryMigration

/// The image stream's wire pieces: frame headers, sizes, the names a target accepts, and
/// the proof a source gives (see ImageStream).
@Suite struct ImageStreamTests {
    @Test func headersRoundTripEveryKindAndLength() {
        for kind in [ImageStream.Kind.pages, .open, .data, .close, .end] {
            for length in [0, 1, 255, 256, 65_535, ImageStream.blockBytes] {
                let header = ImageStream.header(kind, length: length)
                #expect(header.count == 5)
                let decoded = ImageStream.decodeHeader(header)
                #expect(decoded?.0 == kind && decoded?.1 == length)
            }
        }
    }

    @Test func anUnknownKindIsNotDecoded() {
        #expect(ImageStream.decodeHeader([0x5A, 0, 0, 0, 1]) == nil)
        #expect(ImageStream.decodeHeader([0x50, 0, 0]) == nil)
    }

    @Test func sizesAreBigEndianEightBytes() {
        let value: UInt64 = 0x0102_0304_0506_0708
        #expect(ImageStream.bigEndian(value) == [1, 2, 3, 4, 5, 6, 7, 8])
        #expect(ImageStream.decodeBigEndian(ImageStream.bigEndian(value)) == value)
    }

    /// A name is one plain file name in the images directory: never a path, never hidden,
    /// never the source's own spool.
    @Test func onlyPlainImageNamesAreAccepted() {
        for good in ["core-1.img", "pagemap-1.img", "ferry-manifest.json", "tmpfs-dev-78.tar.gz.img"] {
            #expect(ImageStream.isSafeFileName(good), "\(good)")
        }
        for bad in ["", "../config.json", "a/b.img", ".hidden", "x\0y", ImageStream.spoolName, String(repeating: "a", count: 256)] {
            #expect(!ImageStream.isSafeFileName(bad), "\(bad)")
        }
    }

    /// The proof depends on the key and on the nonce: a recorded answer does not open
    /// another connection, and a guessed key does not pass.
    @Test func theProofBindsKeyAndNonce() throws {
        let key = [UInt8](repeating: 1, count: ImageStream.keyBytes)
        let nonce = [UInt8](repeating: 2, count: ImageStream.nonceBytes)
        let proof = try ImageStream.proof(key: key, nonce: nonce)
        #expect(proof.count == ImageStream.macBytes)
        #expect(try ImageStream.proof(key: key, nonce: nonce) == proof)
        var otherNonce = nonce
        otherNonce[0] ^= 1
        #expect(try ImageStream.proof(key: key, nonce: otherNonce) != proof)
        var otherKey = key
        otherKey[31] ^= 1
        #expect(try ImageStream.proof(key: otherKey, nonce: nonce) != proof)
    }

    @Test func randomKeysDiffer() throws {
        let a = try ImageStream.randomBytes(ImageStream.keyBytes)
        let b = try ImageStream.randomBytes(ImageStream.keyBytes)
        #expect(a.count == 32 && a != b)
    }
}
