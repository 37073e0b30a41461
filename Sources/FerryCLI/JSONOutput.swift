import FerryErrors
import Foundation

/// Ferry's machine interface: every `--json` output is one document,
/// `{"schema": N, KEY: payload}`, whose one other key names its payload (`check`,
/// `containers`, `container`, `mounts`, `checkpoint`, `export`, `restore`, `import`,
/// `steps`, `event`), or
/// `{"schema": N, "error": {"code": …, "message": …}}` when the command failed.
/// docs/json/ferry.schema.json describes every document; `schema` changes only when a
/// reader of the previous one would misread the new one.
enum JSONOutput {
    static let schema = 1

    /// Prints a whole document, indented, on stdout.
    static func document(_ key: String, _ payload: some Encodable) throws {
        printLine(try text(key, payload, pretty: true))
    }

    /// Prints a document on one line: one of a stream (`migrate --json`'s events).
    static func line(_ key: String, _ payload: some Encodable) throws {
        printLine(try text(key, payload, pretty: false))
    }

    /// A failure, on one line of stdout (the last line of a stream). The message is a
    /// string, so encoding it cannot fail; the fallback keeps the document valid anyway.
    static func error(code: String, message: String) {
        let text = try? text("error", Failure(code: code, message: message), pretty: false)
        printLine(text ?? #"{"schema":1,"error":{"code":"commandFailed","message":"the error could not be encoded"}}"#)
    }

    static func text(_ key: String, _ payload: some Encodable, pretty: Bool) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: try encoder.encode(Document(key: key, payload: payload)), as: UTF8.self)
    }

    /// `{"schema": N, key: payload}`.
    private struct Document<Payload: Encodable>: Encodable {
        let key: String
        let payload: Payload

        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(JSONOutput.schema, forKey: Key(stringValue: "schema"))
            try container.encode(payload, forKey: Key(stringValue: key))
        }
    }

    struct Failure: Encodable {
        var code: String
        var message: String
    }
}

/// A command with `--json`: its failures are JSON documents on stdout too (see runMain).
protocol JSONCommand: FerrySubcommand {
    var json: Bool { get }
}
