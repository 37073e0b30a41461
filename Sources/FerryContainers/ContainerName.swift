import FerryErrors

/// A validated container name: it becomes a directory and a cgroup name, so it must be a
/// single, printable path component.
public struct ContainerName: Sendable, Hashable, Codable, CustomStringConvertible {
    public let value: String

    public init(_ value: String) throws(FerryError) {
        guard !value.isEmpty else {
            throw FerryError(.invalidArgument, "container name is empty; use letters, digits, '-', '_' or '.'")
        }
        guard value.utf8.count <= 64 else {
            throw FerryError(.invalidArgument, "container name '\(value.prefix(64))…' is longer than 64 bytes")
        }
        if value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) {
            throw FerryError(.invalidArgument, "container name \(value.debugDescription) contains control characters; use letters, digits, '-', '_' or '.'")
        }
        if value.contains("/") || value == "." || value == ".." || value.hasPrefix(".") {
            throw FerryError(.invalidArgument, "container name '\(value)' must not contain '/' or start with '.'; use letters, digits, '-', '_' or '.'")
        }
        let allowed = value.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0)
        }
        guard allowed else {
            throw FerryError(.invalidArgument, "container name '\(value)' has characters other than letters, digits, '-', '_' or '.'")
        }
        self.value = value
    }

    public var description: String { value }

    public init(from decoder: any Decoder) throws {
        let raw = try decoder.singleValueContainer().decode(String.self)
        try self.init(raw)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }
}
