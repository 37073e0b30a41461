/// A mount tree with everything that legitimately changes across a restore taken out:
/// mount ids, device numbers, peer-group numbers and host paths.
///
/// Two captures are equivalent when their canonical forms are equal: same namespaces (by
/// the in-container pids in them), same mounts by mount point and stacking, same roots,
/// types, options, the same partition into peer groups, the same master relations and
/// the same partition into shared superblocks.
public struct CanonicalMountTree: Sendable, Codable, Equatable {
    public var namespaces: [Namespace]

    public struct Namespace: Sendable, Codable, Equatable {
        public var pids: [Int32]
        public var mounts: [Mount]
    }

    public struct Mount: Sendable, Codable, Equatable {
        public var key: String
        public var parentKey: String?
        public var root: String
        public var fsType: String
        public var source: String
        public var mountOptions: [String]
        public var superOptions: [String]
        /// Canonical peer group (first seen = 1), nil when not shared.
        public var peerGroup: Int?
        /// Canonical peer group of the master; 0 for a master outside the container.
        public var masterGroup: Int?
        public var unbindable: Bool
        /// Canonical superblock number (first seen = 1); 0 for external binds.
        public var superblock: Int
    }

    /// Placeholders for host-specific values.
    public static let hostRootMarker = "<container-root>"
    public static let externalMarker = "<external>"

    /// Superblock options that carry host paths (overlay layers): compared as present only.
    static let hostPathOptions: Set<String> = ["lowerdir", "upperdir", "workdir", "datadir"]
    /// Overlay options the kernel derives from the state of the layers on each mount (an
    /// upper dir used before shows `uuid=` differently): not part of the container's state.
    static let derivedOptions: Set<String> = ["uuid", "index", "redirect_dir", "xino", "metacopy", "nfs_export"]

    public init(_ capture: MountTreeCapture) {
        var peerGroups: [Int: Int] = [:]
        var superblocks: [String: Int] = [:]
        // Namespaces keep the capture's order (the capturer sorts them by their lowest pid,
        // and a comparison aligns the other capture to it first).
        let ordered = capture.namespaces.map { ($0, MountAnalysis($0.mounts)) }
        // Number peer groups and superblocks in a deterministic order: namespace, then key.
        var keyed: [(Int, String, MountInfo, MountAnalysis)] = []
        for (index, (_, analysis)) in ordered.enumerated() {
            for mount in analysis.mounts {
                keyed.append((index, analysis.key(of: mount), mount, analysis))
            }
        }
        keyed.sort { ($0.0, $0.1) < ($1.0, $1.1) }
        for (_, _, mount, analysis) in keyed {
            if let group = mount.propagation.sharedGroup, peerGroups[group] == nil {
                peerGroups[group] = peerGroups.count + 1
            }
            if superblocks[mount.device] == nil, !Self.isExternal(mount, in: analysis) {
                superblocks[mount.device] = superblocks.count + 1
            }
        }
        namespaces = ordered.enumerated().map { index, entry in
            let (namespace, analysis) = entry
            let mounts = keyed.filter { $0.0 == index }.map { _, key, mount, _ in
                Self.canonical(mount, key: key, analysis: analysis, peerGroups: peerGroups, superblocks: superblocks)
            }
            return Namespace(pids: namespace.containerPids.sorted(), mounts: mounts)
        }
    }

    private static func canonical(
        _ mount: MountInfo, key: String, analysis: MountAnalysis, peerGroups: [Int: Int], superblocks: [String: Int]
    ) -> Mount {
        let context = analysis.context(for: mount)
        let kind = FilesystemHandlers.handler(for: mount, context).kind
        var root = mount.root
        var source = mount.source
        if context.isContainerRoot {
            root = hostRootMarker
            source = hostRootMarker
        } else if context.insideRootFilesystem, let rootMount = analysis.root {
            // A bind from inside the container: keep its path relative to the root.
            let base = rootMount.root == "/" ? "" : rootMount.root
            root = hostRootMarker + String(mount.root.dropFirst(base.count))
            source = hostRootMarker
        } else if kind == .externalBind {
            root = externalMarker
            source = externalMarker
        }
        let superOptions = mount.superOptions.compactMap { option -> String? in
            let name = option.split(separator: "=", maxSplits: 1).first.map(String.init) ?? option
            if derivedOptions.contains(name) { return nil }
            return hostPathOptions.contains(name) ? "\(name)=\(externalMarker)" : option
        }
        return Mount(
            key: key, parentKey: analysis.parent(of: mount).map { analysis.key(of: $0) },
            root: root, fsType: mount.fsType, source: source,
            mountOptions: mount.mountOptions, superOptions: superOptions,
            peerGroup: mount.propagation.sharedGroup.flatMap { peerGroups[$0] },
            masterGroup: mount.propagation.masterGroup.map { peerGroups[$0] ?? 0 },
            unbindable: mount.propagation.unbindable,
            superblock: kind == .externalBind ? 0 : superblocks[mount.device] ?? 0)
    }

    /// Whether a host file system shows through here: which superblock it shares with the
    /// container depends on the host, so it is left out of the superblock partition.
    private static func isExternal(_ mount: MountInfo, in analysis: MountAnalysis) -> Bool {
        FilesystemHandlers.handler(for: mount, analysis.context(for: mount)).kind == .externalBind
    }
}

/// The differences between two captures of one container, one readable line each.
public enum MountTreeDiff {
    /// Compares captures: the second one's namespaces are first aligned to the first's by
    /// the processes they share (short-lived processes come and go; the namespace stays).
    public static func lines(expected: MountTreeCapture, actual: MountTreeCapture) -> [String] {
        var remaining = actual.namespaces
        var aligned: [MountNamespaceCapture] = []
        var lines: [String] = []
        for namespace in expected.namespaces {
            let wanted = Set(namespace.containerPids)
            let best = remaining.indices.max { wanted.intersection(remaining[$0].containerPids).count < wanted.intersection(remaining[$1].containerPids).count }
            guard let best, !wanted.isDisjoint(with: remaining[best].containerPids) else {
                lines.append("mount namespace of pids \(namespace.containerPids) is missing after restore")
                continue
            }
            aligned.append(remaining.remove(at: best))
        }
        for namespace in remaining {
            lines.append("unexpected mount namespace with pids \(namespace.containerPids)")
        }
        guard lines.isEmpty else { return lines }
        let alignedCapture = MountTreeCapture(hostRoot: actual.hostRoot, namespaces: aligned)
        return Self.lines(expected: CanonicalMountTree(expected), actual: CanonicalMountTree(alignedCapture), comparePids: false)
    }

    public static func lines(expected: CanonicalMountTree, actual: CanonicalMountTree, comparePids: Bool = true) -> [String] {
        var lines: [String] = []
        if expected.namespaces.count != actual.namespaces.count {
            lines.append("mount namespaces: expected \(expected.namespaces.count), found \(actual.namespaces.count)")
        }
        for (index, (before, after)) in zip(expected.namespaces, actual.namespaces).enumerated() {
            let label = "namespace \(index + 1) (pids \(before.pids.map(String.init).joined(separator: ",")))"
            if comparePids, before.pids != after.pids {
                lines.append("\(label): processes differ: expected \(before.pids), found \(after.pids)")
            }
            let afterByKey = Dictionary(after.mounts.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
            let beforeKeys = Set(before.mounts.map(\.key))
            for mount in before.mounts {
                guard let other = afterByKey[mount.key] else {
                    lines.append("\(label): missing mount \(mount.key) (\(mount.fsType))")
                    continue
                }
                lines.append(contentsOf: fieldDifferences(mount, other).map { "\(label): \(mount.key): \($0)" })
            }
            for mount in after.mounts where !beforeKeys.contains(mount.key) {
                lines.append("\(label): unexpected mount \(mount.key) (\(mount.fsType))")
            }
        }
        return lines
    }

    private static func fieldDifferences(_ a: CanonicalMountTree.Mount, _ b: CanonicalMountTree.Mount) -> [String] {
        var result: [String] = []
        func compare<T: Equatable>(_ name: String, _ x: T, _ y: T) {
            if x != y { result.append("\(name) expected \(x), found \(y)") }
        }
        compare("parent", a.parentKey ?? "-", b.parentKey ?? "-")
        compare("root", a.root, b.root)
        compare("fstype", a.fsType, b.fsType)
        compare("source", a.source, b.source)
        compare("mount options", a.mountOptions.joined(separator: ","), b.mountOptions.joined(separator: ","))
        compare("superblock options", a.superOptions.joined(separator: ","), b.superOptions.joined(separator: ","))
        compare("peer group", a.peerGroup.map { "shared:\($0)" } ?? "private", b.peerGroup.map { "shared:\($0)" } ?? "private")
        compare("master", a.masterGroup.map { "master:\($0)" } ?? "none", b.masterGroup.map { "master:\($0)" } ?? "none")
        compare("unbindable", a.unbindable, b.unbindable)
        compare("superblock", a.superblock, b.superblock)
        return result
    }
}
