import FerrySystem
import Foundation
import Testing

/// Ferry's `--json` documents (docs/json/ferry.schema.json): `{"schema": 1, KEY: payload}`.
enum JSONDocuments {
    /// The payload under `key` of a one-document output.
    static func payload(_ text: String, _ key: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
        let document = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not a JSON object: \(text)", sourceLocation: sourceLocation)
        return try #require(document[key] as? [String: Any], "no '\(key)' object in \(text)", sourceLocation: sourceLocation)
    }

    /// `ferry list --json`'s containers.
    static func containers(_ text: String) throws -> [[String: Any]] {
        let document = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not a JSON object: \(text)")
        return try #require(document["containers"] as? [[String: Any]], "no containers in \(text)")
    }

    /// `ferry migrate --json`'s events, one per line, in order.
    static func events(_ text: String) throws -> [[String: Any]] {
        try text.split(separator: "\n").map { line in
            let document = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not a JSON object: \(line)")
            return try #require(document["event"] as? [String: Any], "not an event: \(line)")
        }
    }

    /// The summary a successful `ferry migrate --json` ends with.
    static func migrationSummary(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
        let last = try #require(try events(text).last, "no events: \(text)", sourceLocation: sourceLocation)
        return try #require(last["summary"] as? [String: Any], "the last event is not the summary: \(text)", sourceLocation: sourceLocation)
    }

    /// Validates `text` as the schema's document `definition` with a real validator
    /// (scripts/validate-json, python3-jsonschema); `lines`: one document per line. Returns
    /// the violations, empty when it validates.
    static func violations(_ text: String, as definition: String, lines: Bool = false) throws -> String {
        let output = try Spawn.run(
            ["/usr/bin/python3", Repository.root + "/scripts/validate-json", definition] + (lines ? ["--lines"] : []), input: text)
        if output.status != 0 && output.stdout.isEmpty {
            throw TestFailure("scripts/validate-json \(definition) failed: \(output.stderr)")
        }
        return output.stdout
    }
}
