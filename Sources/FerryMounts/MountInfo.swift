import FerryErrors

/// One line of /proc/PID/mountinfo, as the kernel writes it (see proc(5)).
public struct MountInfo: Sendable, Hashable, Codable {
    public var id: Int
    public var parentID: Int
    /// The superblock's device, `major:minor`; two mounts with the same value share one.
    public var device: String
    /// The path inside the filesystem that is mounted (not "/" for bind mounts of subtrees).
    public var root: String
    public var mountPoint: String
    /// Per-mount options (rw, nosuid, relatime, …).
    public var mountOptions: [String]
    public var propagation: Propagation
    public var fsType: String
    public var source: String
    /// Per-superblock options.
    public var superOptions: [String]

    /// Propagation, from the optional fields: `shared:N`, `master:N`, `propagate_from:N`,
    /// `unbindable`. A mount with none of them is private.
    public struct Propagation: Sendable, Hashable, Codable {
        public var sharedGroup: Int?
        public var masterGroup: Int?
        public var propagateFrom: Int?
        public var unbindable: Bool

        public init(sharedGroup: Int? = nil, masterGroup: Int? = nil, propagateFrom: Int? = nil, unbindable: Bool = false) {
            self.sharedGroup = sharedGroup
            self.masterGroup = masterGroup
            self.propagateFrom = propagateFrom
            self.unbindable = unbindable
        }

        public var isPrivate: Bool { sharedGroup == nil && masterGroup == nil && !unbindable }
    }
}

/// Parses mountinfo text.
public enum MountInfoParser {
    public static func parse(_ text: String) throws(FerryError) -> [MountInfo] {
        var result: [MountInfo] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
            result.append(try parseLine(line, number: number + 1))
        }
        return result
    }

    public static func parseLine(_ line: Substring, number: Int = 1) throws(FerryError) -> MountInfo {
        let fields = line.split(separator: " ", omittingEmptySubsequences: false)
        func bad(_ why: String) -> FerryError {
            FerryError(.corrupt, "mountinfo line \(number) is malformed (\(why)): \(line)")
        }
        guard let separator = fields.firstIndex(of: "-"), separator >= 6, fields.count >= separator + 4 else {
            throw bad("no ' - ' separator or too few fields")
        }
        guard let id = Int(fields[0]), let parent = Int(fields[1]) else {
            throw bad("mount id or parent id is not a number")
        }
        var propagation = MountInfo.Propagation()
        for field in fields[6..<separator] {
            let parts = field.split(separator: ":", maxSplits: 1)
            let value = parts.count == 2 ? Int(parts[1]) : nil
            switch parts.first {
            case "shared": propagation.sharedGroup = value
            case "master": propagation.masterGroup = value
            case "propagate_from": propagation.propagateFrom = value
            case "unbindable": propagation.unbindable = true
            default: continue  // Unknown optional fields are allowed by proc(5).
            }
        }
        return MountInfo(
            id: id, parentID: parent, device: String(fields[2]),
            root: unescape(fields[3]), mountPoint: unescape(fields[4]),
            mountOptions: fields[5].split(separator: ",").map(String.init),
            propagation: propagation,
            fsType: unescape(fields[separator + 1]),
            source: unescape(fields[separator + 2]),
            superOptions: fields[separator + 3].split(separator: ",").map { unescape($0) })
    }

    /// Undoes the kernel's octal escapes (`\040` for space, `\011`, `\012`, `\134`).
    public static func unescape(_ field: Substring) -> String {
        guard field.contains("\\") else { return String(field) }
        var bytes: [UInt8] = []
        let utf8 = Array(field.utf8)
        var index = 0
        while index < utf8.count {
            if utf8[index] == UInt8(ascii: "\\"), index + 3 < utf8.count,
                let value = octal(utf8[(index + 1)...(index + 3)])
            {
                bytes.append(value)
                index += 4
            } else {
                bytes.append(utf8[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func octal(_ digits: ArraySlice<UInt8>) -> UInt8? {
        var value = 0
        for digit in digits {
            guard digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "7") else { return nil }
            value = value * 8 + Int(digit - UInt8(ascii: "0"))
        }
        return value <= 255 ? UInt8(value) : nil
    }
}
