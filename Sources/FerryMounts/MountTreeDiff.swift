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
        var alignedCapture = actual
        alignedCapture.namespaces = aligned
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
