import FerryErrors
import FerrySystem
import Foundation
import Testing

@testable import FerryMigration

/// The agent protocol on the wire: every message survives a round trip, and the shape of
/// version 2 is pinned by a literal line, so an internal change cannot alter it unnoticed.
@Suite struct AgentProtocolTests {
    static let operations: [AgentRequest.Operation] = [
        .hello(.init(container: "web", neededBytes: 42, sharedStorage: .init(uuid: "u", token: "t", offset: 4096))),
        .hello(.init(container: "web", neededBytes: 0, sharedStorage: nil)),
        .prepare(.init(config: "{\"name\":\"web\"}")),
        .restore(.init(container: "web", keepImages: true, dumpDevice: .init(uuid: "u", directory: "ferry-images/web-1"))),
        .restore(.init(container: "web", keepImages: false, dumpDevice: nil)),
        .restore(.init(container: "web", keepImages: false, dumpDevice: nil, lease: 20, postcopy: true)),
        .openImageStream(.init(container: "web", key: "a2V5", postcopy: true)),
        .register(container: "web"), .abort(container: "web"), .commit(container: "web"), .status(container: "web"), .awaitPages(container: "web"), .bye,
    ]

    @Test(arguments: operations) func requestsRoundTrip(_ operation: AgentRequest.Operation) throws {
        let line = try AgentProtocol.line(AgentRequest(operation))
        #expect(line.hasSuffix("\n") && line.dropLast().contains("\n") == false, "one message, one line")
        let decoded = try JSONDecoder().decode(AgentRequest.self, from: Data(line.utf8))
        #expect(decoded == AgentRequest(operation))
        #expect(decoded.protocolVersion == AgentProtocol.version)
    }

    @Test func versionTwoShapeIsPinned() throws {
        let line = #"{"protocolVersion":2,"op":"restore","args":{"container":"db","keepImages":false,"dumpDevice":{"uuid":"abc","directory":"d"},"lease":30}}"#
        let request = try JSONDecoder().decode(AgentRequest.self, from: Data(line.utf8))
        #expect(request.operation == .restore(.init(container: "db", keepImages: false, dumpDevice: .init(uuid: "abc", directory: "d"), lease: 30)))
        let abort = try JSONDecoder().decode(AgentRequest.self, from: Data(#"{"protocolVersion":2,"op":"abort","args":{"container":"db"}}"#.utf8))
        #expect(abort.operation == .abort(container: "db"))
    }

    @Test func unknownOperationIsAnErrorNotAGuess() {
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(AgentRequest.self, from: Data(#"{"protocolVersion":2,"op":"format-disk","args":{}}"#.utf8))
        }
    }

    @Test func errorsCrossTheWireWithTheirCauses() throws {
        let inner = FerryError.system("mount", .noSuchFileOrDirectory, path: "/x")
        let error = FerryError(.criuFailed, "restore of web failed", cause: .error(inner))
        let response = AgentResponse(ok: false, failure: .init(error))
        let line = try AgentProtocol.line(response)
        let decoded = try JSONDecoder().decode(AgentResponse.self, from: Data(line.utf8))
        let again = try #require(decoded.failure).error(on: "h2")
        #expect(again.code == .criuFailed)
        #expect(again.message == "target h2: restore of web failed")
        #expect(again.detailedDescription.contains("mount on /x failed"), "\(again.detailedDescription)")
    }

    @Test func helloCarriesFeaturesByName() throws {
        let kernel = KernelFeaturesFixture.all(true)
        let names = kernel.byName
        #expect(names.count == KernelFeatures.Feature.allCases.count)
        #expect(names["overlayfs"] == true)
    }
}

extension AgentRequest.Operation: CustomTestStringConvertible {
    public var testDescription: String { name }
}
