import Foundation
import Testing

@testable import FerryContainers

/// `list`/`status --json` name every field of the summary, `null` for the absent ones, and
/// the schema requires exactly those keys: a field added to the summary but not to its
/// encoder (or to docs/json/ferry.schema.json) fails here, not in a reader's script.
@Suite struct ContainerSummaryJSONTests {
    static let stopped = ContainerManager.Summary(
        name: "web", status: "stopped", pid: nil, startedAt: nil, hostname: "web", problem: nil,
        storage: .insulatedImage(file: "private.img", sizeBytes: 64 << 20), overlay: false, rootfs: "/r", binds: [], command: ["/sbin/init"],
        migration: nil, security: "hardened", network: nil, hostInterface: nil, limits: ResourceLimits(memoryBytes: 1 << 30), checkpoint: .none,
        shares: [], autostart: false)

    static func encoded(_ summary: ContainerManager.Summary) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(summary)) as? [String: Any])
    }

    /// The schema's definition `name`, from the repository's docs/json.
    static func schemaDefinition(_ name: String) throws -> [String: Any] {
        var url = URL(fileURLWithPath: #filePath)
        while !FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path), url.path != "/" {
            url.deleteLastPathComponent()
        }
        let data = try Data(contentsOf: url.appendingPathComponent("docs/json/ferry.schema.json"))
        let schema = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        return try #require((schema["$defs"] as? [String: Any])?[name] as? [String: Any], "no $defs/\(name)")
    }

    @Test func everyFieldIsAKeyAndAbsentOnesAreNull() throws {
        let json = try Self.encoded(Self.stopped)
        let fields = Set(Mirror(reflecting: Self.stopped).children.compactMap(\.label))
        #expect(Set(json.keys) == fields)
        #expect(json["pid"] is NSNull && json["startedAt"] is NSNull && json["network"] is NSNull && json["checkpoint"] is NSNull)
        let storage = try #require(json["storage"] as? [String: Any])
        #expect(storage["kind"] as? String == "insulated" && storage["imageBytes"] as? Int == 64 << 20 && storage["device"] is NSNull)
        let limits = try #require(json["limits"] as? [String: Any])
        #expect(limits["memoryBytes"] as? Int == 1 << 30 && limits["cpus"] is NSNull && limits["pids"] is NSNull)
    }

    /// The default checkpoint as an object: when, and whether (and how) it has served.
    @Test func aCheckpointSaysWhenAndWhetherItServed() throws {
        var summary = Self.stopped
        let made = Date(timeIntervalSince1970: 1_800_000_000)
        summary.checkpoint = .unused(createdAt: made)
        let unused = try #require(try Self.encoded(summary)["checkpoint"] as? [String: Any])
        #expect(unused["used"] as? Bool == false && unused["usedBy"] is NSNull && unused["usedAt"] is NSNull && unused["createdAt"] != nil)
        summary.checkpoint = .used(CheckpointUse(at: made.addingTimeInterval(60), by: "restore"), createdAt: made)
        let used = try #require(try Self.encoded(summary)["checkpoint"] as? [String: Any])
        #expect(used["used"] as? Bool == true && used["usedBy"] as? String == "restore" && used["usedAt"] != nil)
        #expect(Set(used.keys) == ["createdAt", "used", "usedBy", "usedAt"])
    }

    @Test func theSchemaRequiresExactlyTheEncodedKeys() throws {
        let container = try Self.schemaDefinition("container")
        let required = Set(try #require(container["required"] as? [String]))
        let properties = Set(try #require(container["properties"] as? [String: Any]).keys)
        let keys = Set(try Self.encoded(Self.stopped).keys)
        #expect(required == keys && properties == keys)
    }
}
