/// The mount state of a container: one mount table per mount namespace its processes use.
///
/// A captured tree is a plain value: made from /proc by FerryContainers, stored in the
/// checkpoint manifest, compared after restore. It knows nothing of CRIU.
public struct MountTreeCapture: Sendable, Codable, Equatable {
    /// The container root as the host saw it when captured (e.g. /var/lib/ferry/…/rootfs).
    public var hostRoot: String
    public var namespaces: [MountNamespaceCapture]
    /// The container paths of the container's `--bind` mounts: what handlers call a
    /// declared bind, as opposed to a host mount Ferry knows nothing about.
    public var declaredBinds: [String]
    /// Which of `declaredBinds` are `--share`s: a network filesystem Ferry mounts on each
    /// host, where the others are host paths.
    public var declaredShares: [String]
    /// The host pids of the container's processes when captured, for handlers that ask
    /// whether a mount's owner (autofs `pgrp=`) is inside the container. Not compared.
    public var hostPids: [Int32]
    /// The container's cgroup on the host that captured it (/ferry/TAG/NAME): cgroup
    /// mounts show their root below it, a path that differs between hosts.
    public var cgroupPath: String

    public init(
        hostRoot: String, namespaces: [MountNamespaceCapture], declaredBinds: [String] = [], declaredShares: [String] = [], hostPids: [Int32] = [],
        cgroupPath: String = ""
    ) {
        self.hostRoot = hostRoot
        self.namespaces = namespaces
        self.declaredBinds = declaredBinds
        self.declaredShares = declaredShares
        self.hostPids = hostPids
        self.cgroupPath = cgroupPath
    }

    public var mountCount: Int { namespaces.reduce(0) { $0 + $1.mounts.count } }

    /// Each namespace's mounts analysed with what the whole capture knows.
    public func analyses() -> [MountAnalysis] {
        namespaces.map { MountAnalysis($0.mounts, declaredBinds: declaredBinds, declaredShares: Set(declaredShares), hostPids: Set(hostPids), cgroupPath: cgroupPath) }
    }

    private enum CodingKeys: String, CodingKey { case hostRoot, namespaces, declaredBinds, declaredShares, hostPids, cgroupPath }

    /// Manifests written before declared binds were recorded decode with none.
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        hostRoot = try container.decode(String.self, forKey: .hostRoot)
        namespaces = try container.decode([MountNamespaceCapture].self, forKey: .namespaces)
        declaredBinds = try container.decodeIfPresent([String].self, forKey: .declaredBinds) ?? []
        declaredShares = try container.decodeIfPresent([String].self, forKey: .declaredShares) ?? []
        hostPids = try container.decodeIfPresent([Int32].self, forKey: .hostPids) ?? []
        cgroupPath = try container.decodeIfPresent(String.self, forKey: .cgroupPath) ?? ""
    }
}

/// One mount namespace and the mounts in it, as its processes see them.
public struct MountNamespaceCapture: Sendable, Codable, Equatable {
    /// The namespace's inode (from /proc/PID/ns/mnt); differs on every host and restore.
    public var inode: UInt64
    /// The pids, as the container sees them, of processes in this namespace. CRIU restores
    /// in-container pids, so these identify the namespace across a restore.
    public var containerPids: [Int32]
    public var mounts: [MountInfo]
    /// Ids of the mounts whose root is not a directory (a file bind): their mount point
    /// must be re-created as a file before a restore.
    public var fileMounts: [Int]

    public init(inode: UInt64, containerPids: [Int32], mounts: [MountInfo], fileMounts: [Int] = []) {
        self.inode = inode
        self.containerPids = containerPids
        self.mounts = mounts
        self.fileMounts = fileMounts
    }

    private enum CodingKeys: String, CodingKey { case inode, containerPids, mounts, fileMounts }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        inode = try container.decode(UInt64.self, forKey: .inode)
        containerPids = try container.decode([Int32].self, forKey: .containerPids)
        mounts = try container.decode([MountInfo].self, forKey: .mounts)
        fileMounts = try container.decodeIfPresent([Int].self, forKey: .fileMounts) ?? []
    }
}
