/// The mount state of a container: one mount table per mount namespace its processes use.
///
/// A captured tree is a plain value: made from /proc by FerryContainers, stored in the
/// checkpoint manifest, compared after restore. It knows nothing of CRIU.
public struct MountTreeCapture: Sendable, Codable, Equatable {
    /// The container root as the host saw it when captured (e.g. /var/lib/ferry/…/rootfs).
    public var hostRoot: String
    public var namespaces: [MountNamespaceCapture]

    public init(hostRoot: String, namespaces: [MountNamespaceCapture]) {
        self.hostRoot = hostRoot
        self.namespaces = namespaces
    }

    public var mountCount: Int { namespaces.reduce(0) { $0 + $1.mounts.count } }
}

/// One mount namespace and the mounts in it, as its processes see them.
public struct MountNamespaceCapture: Sendable, Codable, Equatable {
    /// The namespace's inode (from /proc/PID/ns/mnt); differs on every host and restore.
    public var inode: UInt64
    /// The pids, as the container sees them, of processes in this namespace. CRIU restores
    /// in-container pids, so these identify the namespace across a restore.
    public var containerPids: [Int32]
    public var mounts: [MountInfo]

    public init(inode: UInt64, containerPids: [Int32], mounts: [MountInfo]) {
        self.inode = inode
        self.containerPids = containerPids
        self.mounts = mounts
    }
}
