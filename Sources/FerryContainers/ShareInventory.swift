/// What a placeholder filesystem shows of a share while its file server is away: the
/// files and directories the restored processes hold (open, as working directory,
/// mapped), each with the mode and size CRIU checks when it reopens them. Nothing else:
/// the placeholder has no file contents, and every other question waits for the share.
public struct ShareInventory: Sendable, Codable, Equatable {
    public struct Entry: Sendable, Codable, Equatable {
        /// st_mode with the type bits.
        public var mode: UInt32
        public var size: UInt64

        public init(mode: UInt32, size: UInt64) {
            self.mode = mode
            self.size = size
        }

        public var isDirectory: Bool { mode & 0o170000 == 0o040000 }
        /// What a directory that holds an entry but was not itself recorded looks like.
        public static let impliedDirectory = Entry(mode: 0o040755, size: 0)
    }

    /// Path inside the share, "/" for its root → entry.
    public var entries: [String: Entry]

    public init(entries: [String: Entry] = [:]) {
        self.entries = entries
    }

    /// Every recorded path with each directory on the way to it: what the placeholder
    /// answers a lookup for.
    public var withParents: [String: Entry] {
        var result = entries
        result["/"] = result["/"] ?? .impliedDirectory
        for path in entries.keys {
            var parent = Self.parent(of: path)
            while let directory = parent, result[directory] == nil {
                result[directory] = .impliedDirectory
                parent = Self.parent(of: directory)
            }
        }
        return result
    }

    /// "/a/b" → "/a", "/a" → "/", "/" → nil.
    static func parent(of path: String) -> String? {
        guard path != "/", let slash = path.lastIndex(of: "/") else { return nil }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
