/// What Ferry makes of one mount when it plans a checkpoint.
public enum MountVerdict: Sendable, Codable, Equatable, CustomStringConvertible {
    case migratable
    /// Migratable once Ferry maps it to a path or share on the target.
    case migratableWithRemap(String)
    case blocked(String)

    public var isBlocked: Bool {
        if case .blocked = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .migratable: return "migratable"
        case .migratableWithRemap(let why): return "migratable with remap (\(why))"
        case .blocked(let why): return "blocked (\(why))"
        }
    }
}

/// The kinds of filesystem Ferry tells apart.
public enum FilesystemKind: String, Sendable, Codable, CaseIterable {
    case pseudo, tmpfs, rootfs, overlay, externalBind, autofs, networkFS, fuse, unsupported
}

/// Everything a handler may look at besides the mount itself.
public struct MountContext: Sendable {
    /// The container's root mount (the bottom mount at "/").
    public var isContainerRoot: Bool
    /// The mount shows a part of the container root's own filesystem: same superblock and
    /// a root inside the root mount's root (a bind mount made inside the container).
    public var insideRootFilesystem: Bool

    public init(isContainerRoot: Bool, insideRootFilesystem: Bool) {
        self.isContainerRoot = isContainerRoot
        self.insideRootFilesystem = insideRootFilesystem
    }
}

/// One entry of the per-filesystem table: which fstypes it claims, what kind they are, and
/// its verdict. A table instead of `if fstype == …` chains, as CRIU's own fstypes table.
public struct FilesystemHandler: Sendable {
    public var kind: FilesystemKind
    public var claims: @Sendable (MountInfo, MountContext) -> Bool
    public var verdict: @Sendable (MountInfo, MountContext) -> MountVerdict

    public init(
        kind: FilesystemKind, claims: @escaping @Sendable (MountInfo, MountContext) -> Bool,
        verdict: @escaping @Sendable (MountInfo, MountContext) -> MountVerdict
    ) {
        self.kind = kind
        self.claims = claims
        self.verdict = verdict
    }
}

/// The handler table, first match wins.
public enum FilesystemHandlers {
    static let pseudoTypes: Set<String> = [
        "proc", "sysfs", "devpts", "mqueue", "cgroup", "cgroup2", "securityfs", "debugfs", "tracefs",
        "binfmt_misc", "pstore", "bpf", "fusectl", "configfs", "hugetlbfs", "devtmpfs",
    ]
    static let networkTypes: Set<String> = ["nfs", "nfs4", "cifs", "smb3", "9p", "fuse.sshfs", "ceph", "glusterfs"]
    static let diskTypes: Set<String> = ["ext2", "ext3", "ext4", "xfs", "btrfs", "vfat", "overlay", "tmpfs"]

    public static let table: [FilesystemHandler] = [
        FilesystemHandler(
            kind: .overlay, claims: { mount, _ in mount.fsType == "overlay" },
            verdict: { _, context in
                context.isContainerRoot
                    ? .migratableWithRemap("overlay root: Ferry mounts it on the target and gives CRIU --root")
                    : .blocked("an overlay mounted inside the container is not supported yet")
            }),
        FilesystemHandler(
            kind: .rootfs, claims: { _, context in context.isContainerRoot },
            verdict: { _, _ in .migratableWithRemap("container root: given to CRIU as --root") }),
        FilesystemHandler(
            kind: .pseudo, claims: { mount, _ in pseudoTypes.contains(mount.fsType) },
            verdict: { _, _ in .migratable }),
        FilesystemHandler(
            kind: .tmpfs, claims: { mount, _ in mount.fsType == "tmpfs" || mount.fsType == "ramfs" },
            verdict: { _, _ in .migratable }),
        FilesystemHandler(
            kind: .autofs, claims: { mount, _ in mount.fsType == "autofs" },
            verdict: { _, _ in .blocked("autofs mounts are not supported yet") }),
        FilesystemHandler(
            kind: .networkFS, claims: { mount, _ in networkTypes.contains(mount.fsType) },
            verdict: { mount, _ in .blocked("network filesystem \(mount.fsType) from \(mount.source) is not supported yet") }),
        FilesystemHandler(
            kind: .fuse, claims: { mount, _ in mount.fsType == "fuse" || mount.fsType.hasPrefix("fuse.") || mount.fsType == "fuseblk" },
            verdict: { mount, _ in .blocked("FUSE filesystem \(mount.fsType) cannot be dumped by CRIU") }),
        FilesystemHandler(
            kind: .rootfs, claims: { _, context in context.insideRootFilesystem },
            verdict: { _, _ in .migratable }),
        FilesystemHandler(
            kind: .externalBind, claims: { mount, _ in diskTypes.contains(mount.fsType) },
            verdict: { _, _ in .migratableWithRemap("host path bound into the container: an external mount") }),
        FilesystemHandler(
            kind: .unsupported, claims: { _, _ in true },
            verdict: { mount, _ in .blocked("filesystem type \(mount.fsType) is not supported") }),
    ]

    /// The first handler that claims the mount.
    public static func handler(for mount: MountInfo, _ context: MountContext) -> FilesystemHandler {
        // The last entry claims everything, so a match always exists.
        table.first { $0.claims(mount, context) } ?? table[table.count - 1]
    }
}
