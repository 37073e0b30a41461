/// The verdict on every mount of a captured tree: what `ferry mounts` prints and what a
/// checkpoint plan refuses on.
public struct MountReport: Sendable, Codable, Equatable {
    public struct Entry: Sendable, Codable, Equatable {
        public var namespace: Int
        public var mountPoint: String
        public var fsType: String
        public var source: String
        public var propagation: String
        public var kind: FilesystemKind
        /// The handler row that claimed the mount.
        public var handler: String
        public var criu: CRIURole
        public var verdict: MountVerdict
    }

    public var entries: [Entry]

    public init(_ capture: MountTreeCapture) {
        var entries: [Entry] = []
        for (index, analysis) in capture.analyses().enumerated() {
            for mount in analysis.mounts {
                let handler = analysis.handler(for: mount)
                var propagation: [String] = []
                if let group = mount.propagation.sharedGroup { propagation.append("shared:\(group)") }
                if let master = mount.propagation.masterGroup { propagation.append("master:\(master)") }
                if mount.propagation.unbindable { propagation.append("unbindable") }
                entries.append(Entry(
                    namespace: index + 1, mountPoint: analysis.key(of: mount), fsType: mount.fsType, source: mount.source,
                    propagation: propagation.isEmpty ? "private" : propagation.joined(separator: " "),
                    kind: handler.kind, handler: handler.name, criu: handler.criu,
                    verdict: handler.verdict(mount, analysis.context(for: mount))))
            }
        }
        self.entries = entries
    }

    public var blocked: [Entry] { entries.filter { $0.verdict.isBlocked } }
}
