/// The handler table, first match wins. A new filesystem is a new row here, not an `if` in
/// the checkpoint, the restore and the report.
public enum FilesystemHandlers {
    static let pseudoTypes: Set<String> = [
        "proc", "sysfs", "devpts", "mqueue", "cgroup", "cgroup2", "securityfs", "debugfs", "tracefs",
        "binfmt_misc", "pstore", "bpf", "fusectl", "configfs", "hugetlbfs", "devtmpfs",
    ]
    static let networkTypes: Set<String> = ["nfs", "nfs4", "cifs", "smb3", "9p", "fuse.sshfs", "ceph", "glusterfs"]
    static let diskTypes: Set<String> = ["ext2", "ext3", "ext4", "xfs", "btrfs", "vfat", "f2fs"]

    /// Overlay options the kernel derives from the state of the layers on each mount (an
    /// upper dir used before shows `uuid=` differently): not part of the container's state.
    static let overlayDerived: Set<String> = ["uuid", "index", "redirect_dir", "xino", "metacopy", "nfs_export"]
    /// Overlay options that carry host paths.
    static let overlayLayers: Set<String> = ["lowerdir", "upperdir", "workdir", "datadir"]
    /// autofs options that name the daemon's pipe and process group on this host.
    static let autofsDerived: Set<String> = ["fd", "pgrp", "pipe_ino"]

    public static let table: [FilesystemHandler] = [
        FilesystemHandler(
            name: "overlay root", kind: .overlay, criu: .root,
            equivalence: Equivalence(identity: .containerRoot, derivedOptions: overlayDerived, hostPathOptions: overlayLayers),
            claims: { mount, context in context.isContainerRoot && mount.fsType == "overlay" },
            verdict: { _, _ in .migratableWithRemap("overlay root: Ferry mounts it on the target and gives CRIU --root") }),
        FilesystemHandler(
            name: "container root", kind: .rootfs, criu: .root,
            equivalence: Equivalence(identity: .containerRoot, hostStorage: true),
            claims: { _, context in context.isContainerRoot },
            verdict: { _, _ in .migratableWithRemap("container root: given to CRIU as --root") }),
        // Before the network and FUSE rows: a share Ferry mounts on every host is an
        // external to CRIU, as a --bind is. Its type, source and options are how this host
        // mounted it (a placeholder while its server is away); which mounts show one
        // superblock is the container's, and is compared.
        FilesystemHandler(
            name: "declared share", kind: .networkFS, criu: .external,
            equivalence: Equivalence(identity: .declaredShare, hostStorage: true),
            claims: { _, context in context.isShare },
            verdict: { mount, context in
                context.isDeclaredDestination
                    ? .migratableWithRemap("network share \(mount.source) (--share): Ferry mounts it on the target and hands it to CRIU")
                    : .migratableWithRemap("bind of the --share at \(context.declaredBind ?? "?") made inside the container")
            }),
        // A network share or FUSE mounted any other way: CRIU cannot dump it, and Ferry
        // would not know how to mount it on the target.
        FilesystemHandler(
            name: "network filesystem", kind: .networkFS,
            claims: { mount, _ in networkTypes.contains(mount.fsType) },
            verdict: { mount, _ in
                .blocked("network filesystem \(mount.fsType) from \(mount.source) was not mounted by Ferry; declare it with --share so Ferry mounts it on each host")
            }),
        FilesystemHandler(
            name: "FUSE", kind: .fuse,
            claims: { mount, _ in mount.fsType == "fuse" || mount.fsType.hasPrefix("fuse.") || mount.fsType == "fuseblk" },
            verdict: { mount, _ in .blocked("FUSE filesystem \(mount.fsType) cannot be dumped by CRIU") }),
        // Before the tmpfs and pseudo rows: a host tmpfs bound in is the host's, not a
        // tmpfs for CRIU to dump.
        FilesystemHandler(
            name: "declared bind", kind: .externalBind, criu: .external,
            equivalence: Equivalence(identity: .declaredBind, hostStorage: true),
            claims: { _, context in context.declaredBind != nil },
            verdict: { _, context in
                context.isDeclaredDestination
                    ? .migratableWithRemap("host path bound into the container (--bind): an external mount")
                    : .migratableWithRemap("bind of the --bind at \(context.declaredBind ?? "?") made inside the container")
            }),
        FilesystemHandler(
            name: "bind of the root filesystem", kind: .rootfs,
            equivalence: Equivalence(identity: .insideRoot, hostStorage: true),
            claims: { _, context in context.insideRootFilesystem },
            verdict: { _, _ in .migratable }),
        FilesystemHandler(
            name: "overlay inside", kind: .overlay,
            equivalence: Equivalence(identity: .asIs, derivedOptions: overlayDerived, hostPathOptions: overlayLayers),
            claims: { mount, _ in mount.fsType == "overlay" },
            verdict: { _, _ in .blocked("an overlay mounted inside the container is not supported yet") }),
        FilesystemHandler(
            name: "cgroup", kind: .pseudo, equivalence: Equivalence(identity: .cgroup),
            claims: { mount, _ in mount.fsType == "cgroup" || mount.fsType == "cgroup2" },
            verdict: { _, _ in .migratable }),
        FilesystemHandler(
            name: "pseudo", kind: .pseudo,
            claims: { mount, _ in pseudoTypes.contains(mount.fsType) },
            verdict: { _, _ in .migratable }),
        FilesystemHandler(
            name: "tmpfs", kind: .tmpfs,
            claims: { mount, _ in mount.fsType == "tmpfs" || mount.fsType == "ramfs" },
            verdict: { _, _ in .migratable }),
        FilesystemHandler(
            name: "autofs", kind: .autofs, equivalence: Equivalence(identity: .asIs, derivedOptions: autofsDerived),
            claims: { mount, _ in mount.fsType == "autofs" },
            verdict: { _, _ in .blocked("autofs mounts are not supported yet") }),
        FilesystemHandler(
            name: "unknown host mount", kind: .externalBind, equivalence: Equivalence(identity: .host, hostStorage: true),
            claims: { mount, _ in diskTypes.contains(mount.fsType) },
            verdict: { mount, _ in
                .blocked(
                    "\(mount.fsType) \(mount.root) of \(mount.source) comes from the host but is not one of the container's --bind mounts; Ferry cannot map it on restore (declare it with --bind)")
            }),
        FilesystemHandler(
            name: "unsupported", kind: .unsupported, equivalence: Equivalence(identity: .host, hostStorage: true),
            claims: { _, _ in true },
            verdict: { mount, _ in .blocked("filesystem type \(mount.fsType) is not supported") }),
    ]

    /// The first handler that claims the mount.
    public static func handler(for mount: MountInfo, _ context: MountContext) -> FilesystemHandler {
        // The last entry claims everything, so a match always exists.
        table.first { $0.claims(mount, context) } ?? table[table.count - 1]
    }
}
