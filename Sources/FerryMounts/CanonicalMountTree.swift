/// A mount tree with everything that legitimately changes across a restore taken out:
/// mount ids, device numbers, peer-group numbers and whatever each mount's handler says is
/// the host's (host paths, the host storage's type and options, derived options).
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
        /// Canonical superblock number (first seen = 1); 0 for host superblocks.
        public var superblock: Int
    }

    /// Placeholders for host-specific values.
    public static let hostRootMarker = "<container-root>"
    public static let externalMarker = "<external>"
    public static let hostStorageMarker = "<host-storage>"
    public static let cgroupMarker = "<container-cgroup>"

    public init(_ capture: MountTreeCapture) {
        var peerGroups: [Int: Int] = [:]
        var superblocks: [String: Int] = [:]
        // Namespaces keep the capture's order (the capturer sorts them by their lowest pid,
        // and a comparison aligns the other capture to it first).
        let analyses = capture.analyses()
        // Number peer groups and superblocks in a deterministic order: namespace, then key.
        var keyed: [(namespace: Int, key: String, mount: MountInfo, handler: FilesystemHandler)] = []
        for (index, analysis) in analyses.enumerated() {
            for mount in analysis.mounts {
                keyed.append((index, analysis.key(of: mount), mount, analysis.handler(for: mount)))
            }
        }
        keyed.sort { ($0.namespace, $0.key) < ($1.namespace, $1.key) }
        for entry in keyed {
            if let group = entry.mount.propagation.sharedGroup, peerGroups[group] == nil {
                peerGroups[group] = peerGroups.count + 1
            }
            if superblocks[entry.mount.device] == nil, entry.handler.equivalence.sharesSuperblock {
                superblocks[entry.mount.device] = superblocks.count + 1
            }
        }
        namespaces = capture.namespaces.enumerated().map { index, namespace in
            let analysis = analyses[index]
            let mounts = keyed.filter { $0.namespace == index }.map { entry in
                Self.canonical(entry.mount, key: entry.key, handler: entry.handler, analysis: analysis, peerGroups: peerGroups, superblocks: superblocks)
            }
            return Namespace(pids: namespace.containerPids.sorted(), mounts: mounts)
        }
    }

    private static func canonical(
        _ mount: MountInfo, key: String, handler: FilesystemHandler, analysis: MountAnalysis, peerGroups: [Int: Int], superblocks: [String: Int]
    ) -> Mount {
        let rules = handler.equivalence
        var root = mount.root
        var source = mount.source
        switch rules.identity {
        case .asIs:
            break
        case .containerRoot:
            root = hostRootMarker
            source = hostRootMarker
        case .insideRoot:
            // A bind from inside the container: keep its path relative to the root.
            let base = analysis.root.map { $0.root == "/" ? "" : $0.root } ?? ""
            root = hostRootMarker + String(mount.root.dropFirst(base.count))
            source = hostRootMarker
        case .declaredBind, .declaredShare:
            // Named by the bind it shows, and where inside that bind's source it points.
            let path = analysis.context(for: mount).declaredBind ?? ""
            let anchor = analysis.mounts.first { $0.mountPoint == path && analysis.stackIndex(of: $0) == 0 }
            let base = anchor.map { $0.root == "/" ? "" : $0.root } ?? ""
            root = "<bind \(path)>" + String(mount.root.dropFirst(base.count))
            source = externalMarker
        case .host:
            root = externalMarker
            source = externalMarker
        case .cgroup:
            let base = analysis.cgroupPath
            if !base.isEmpty, MountAnalysis.path(mount.root, isWithin: base) {
                root = cgroupMarker + String(mount.root.dropFirst(base.count))
            }
        }
        var fsType = mount.fsType
        var mountOptions = mount.mountOptions
        var superOptions = mount.superOptions.compactMap { option -> String? in
            let name = option.split(separator: "=", maxSplits: 1).first.map(String.init) ?? option
            if rules.derivedOptions.contains(name) { return nil }
            return rules.hostPathOptions.contains(name) ? "\(name)=\(externalMarker)" : option
        }
        if rules.hostStorage {
            fsType = hostStorageMarker
            source = source == mount.source ? hostStorageMarker : source
            superOptions = []
            mountOptions = mountOptions.filter { $0 == "ro" || $0 == "rw" }
        }
        return Mount(
            key: key, parentKey: analysis.parent(of: mount).map { analysis.key(of: $0) },
            root: root, fsType: fsType, source: source,
            mountOptions: mountOptions, superOptions: superOptions,
            peerGroup: mount.propagation.sharedGroup.flatMap { peerGroups[$0] },
            masterGroup: mount.propagation.masterGroup.map { peerGroups[$0] ?? 0 },
            unbindable: mount.propagation.unbindable,
            superblock: rules.sharesSuperblock ? superblocks[mount.device] ?? 0 : 0)
    }
}
