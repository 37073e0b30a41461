/// The kinds of filesystem Ferry tells apart.
public enum FilesystemKind: String, Sendable, Codable, CaseIterable {
    case pseudo, tmpfs, rootfs, overlay, externalBind, autofs, networkFS, fuse, unsupported
}

/// Everything a handler may look at besides the mount itself, derived once per namespace
/// by `MountAnalysis`.
public struct MountContext: Sendable, Equatable {
    /// The container's root mount (the bottom mount at "/").
    public var isContainerRoot = false
    /// The mount shows a part of the container root's own filesystem: same superblock and
    /// a root inside the root mount's root (a bind mount made inside the container).
    public var insideRootFilesystem = false
    /// The container path of the `--bind` this mount shows: the bind itself, or a bind of
    /// it made inside the container (same superblock, a root inside the bind's root).
    public var declaredBind: String?
    /// The mount is the `--bind` at its destination, not a copy made inside the container.
    public var isDeclaredDestination = false
    /// The declared bind is a `--share`: a network filesystem Ferry mounts on every host.
    public var isShare = false
    /// For a mount that names an owning process (autofs `pgrp=`): whether that process is
    /// one of the container's. nil when the mount names none.
    public var ownerInsideContainer: Bool?

    public init(
        isContainerRoot: Bool = false, insideRootFilesystem: Bool = false, declaredBind: String? = nil,
        isDeclaredDestination: Bool = false, ownerInsideContainer: Bool? = nil
    ) {
        self.isContainerRoot = isContainerRoot
        self.insideRootFilesystem = insideRootFilesystem
        self.declaredBind = declaredBind
        self.isDeclaredDestination = isDeclaredDestination
        self.ownerInsideContainer = ownerInsideContainer
    }
}

/// How CRIU handles a mount (`criu/include/filesystems.h` has the same split: dumped by
/// CRIU, the root, or an external it only records).
public enum CRIURole: String, Sendable, Codable {
    /// CRIU dumps and remounts it itself (tmpfs contents included).
    case dumped
    /// The container root: Ferry mounts it on the host and gives CRIU `--root`.
    case root
    /// CRIU records it under a key (`--external mnt[PATH]:KEY`); Ferry supplies the host
    /// source for that key at restore (`mnt[KEY]:HOSTPATH`).
    case external
}

/// Which parts of a mount are the container's state and which belong to the host that runs
/// it. The restore check compares only the container's parts, so it never stops a
/// container for a difference that is the host's.
public struct Equivalence: Sendable {
    /// How the mount's root and source are written in the canonical form.
    public enum Identity: Sendable {
        /// As the kernel shows them: the container made this mount.
        case asIs
        /// The container root: its host path differs on every host.
        case containerRoot
        /// A bind of the root filesystem: its path relative to the container root.
        case insideRoot
        /// A `--bind` from the host (or a bind of one): named by its container path, its
        /// path relative to the bind's root. Its superblock is the host's.
        case declaredBind
        /// A `--share` (or a bind of one): named like a declared bind, but its superblock is
        /// the share's own on every host, so which mounts share it is compared.
        case declaredShare
        /// A host mount Ferry knows nothing about (refused anyway).
        case host
        /// A cgroup hierarchy: its root is a path in the host's cgroup tree, below the
        /// container's cgroup, which is named differently on every host.
        case cgroup
    }

    public var identity: Identity
    /// Superblock options the kernel derives on each mount (overlay `uuid=`, autofs `fd=`):
    /// left out of the comparison.
    public var derivedOptions: Set<String> = []
    /// Superblock options whose values are host paths (overlay layers): compared as present.
    public var hostPathOptions: Set<String> = []
    /// The filesystem type, source and superblock options are the host's storage (the
    /// private area's filesystem, a bind source's): Ferry may change them (`--dst-storage`,
    /// a moved bind source), so they are not compared, and of the mount options only
    /// ro/rw, which the container's config decides.
    public var hostStorage = false

    public init(identity: Identity, derivedOptions: Set<String> = [], hostPathOptions: Set<String> = [], hostStorage: Bool = false) {
        self.identity = identity
        self.derivedOptions = derivedOptions
        self.hostPathOptions = hostPathOptions
        self.hostStorage = hostStorage
    }

    /// Whether the mount takes part in the superblock partition: a host's superblock is
    /// shared with whatever else the host keeps on it, which differs between hosts.
    public var sharesSuperblock: Bool { identity != .declaredBind && identity != .host }
}

/// One row of the per-filesystem table, like CRIU's `struct fstype`: which mounts it
/// claims, its verdict, how CRIU handles the mount, and what the restore check compares.
public struct FilesystemHandler: Sendable {
    /// The row's name, for reports and tests.
    public var name: String
    public var kind: FilesystemKind
    public var claims: @Sendable (MountInfo, MountContext) -> Bool
    public var verdict: @Sendable (MountInfo, MountContext) -> MountVerdict
    public var criu: CRIURole
    public var equivalence: Equivalence

    public init(
        name: String, kind: FilesystemKind, criu: CRIURole = .dumped, equivalence: Equivalence = Equivalence(identity: .asIs),
        claims: @escaping @Sendable (MountInfo, MountContext) -> Bool,
        verdict: @escaping @Sendable (MountInfo, MountContext) -> MountVerdict
    ) {
        self.name = name
        self.kind = kind
        self.criu = criu
        self.equivalence = equivalence
        self.claims = claims
        self.verdict = verdict
    }
}
