import FerryErrors
import FerrySystem
import Glibc
import Testing

@testable import FerryMigration

/// The post-copy relay over local socket pairs standing in for the two CRIU ends and the
/// image stream: bytes cross both ways and both relays end; a frame whose tag does not
/// verify stops the relay that reads it.
@Suite struct PostcopyRelayTests {
    static let key = [UInt8](repeating: 7, count: ImageStream.keyBytes)

    @Test func bytesCrossBothWaysAndBothSidesEnd() throws {
        let (sourceStream, targetStream) = try TCPSocket.streamPair()
        let (sourceCRIU, sourceLocal) = try TCPSocket.streamPair()
        let (targetCRIU, targetLocal) = try TCPSocket.streamPair()
        let source = PostcopyRelay(stream: sourceStream.rawValue, local: sourceLocal, key: Self.key, side: .source, idleSeconds: 5)
        let target = PostcopyRelay(stream: targetStream.rawValue, local: targetLocal, key: Self.key, side: .target, idleSeconds: 5)
        let sourceRun = BackgroundTask("source relay") { () throws(FerryError) in try source.run() }
        let targetRun = BackgroundTask("target relay") { () throws(FerryError) in try target.run() }

        // The daemon asks, the lazy dump answers with more than one block.
        let request: [UInt8] = Array("get pages".utf8)
        try targetCRIU.write(String(decoding: request, as: UTF8.self))
        #expect(try StreamIO(fd: sourceCRIU.rawValue).read(request.count) == request)
        let answer = (0..<(ImageStream.blockBytes + 4096)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let writer = BackgroundTask("answer") { () throws(FerryError) in try StreamIO(fd: sourceCRIU.rawValue).write(answer) }
        #expect(try StreamIO(fd: targetCRIU.rawValue).read(answer.count) == answer)
        try writer.value(within: 5, what: "the answer")

        // Both CRIU ends close: both relays end cleanly.
        TCPSocket.shutdown(targetCRIU)
        TCPSocket.shutdown(sourceCRIU)
        #expect(try sourceRun.value(within: 5, what: "the source relay") > 0)
        #expect(try targetRun.value(within: 5, what: "the target relay") > 0)
    }

    @Test func aFrameWithAWrongTagStopsTheRelay() throws {
        let (forger, targetStream) = try TCPSocket.streamPair()
        let (targetCRIU, targetLocal) = try TCPSocket.streamPair()
        let target = PostcopyRelay(stream: targetStream.rawValue, local: targetLocal, key: Self.key, side: .target, idleSeconds: 5)
        let run = BackgroundTask("target relay") { () throws(FerryError) in try target.run() }
        let payload: [UInt8] = [1, 2, 3, 4]
        try StreamIO(fd: forger.rawValue).write(ImageStream.header(.pages, length: payload.count) + payload + [UInt8](repeating: 0, count: ImageStream.macBytes))
        guard case .failure(let error)? = run.wait(within: 5) else {
            Issue.record("the relay took a forged frame")
            return
        }
        #expect(error.message.contains("MAC"), "\(error.message)")
        // Nothing of it reached CRIU, whose connection is broken now.
        var buffer = [UInt8](repeating: 0, count: 16)
        #expect(DescriptorIO.read(targetCRIU.rawValue, into: &buffer) == .success(0))
    }
}
