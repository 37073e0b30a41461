import FerrySystem

extension ContainerRuntime {
    /// The container's cgroup in every hierarchy: `ferry/TAG/NAME`, the freezer's path.
    public var cgroups: CgroupSet { CgroupSet(relativePath: "ferry/\(root.tag)/\(config.name.value)") }

    /// Whether the init is systemd, which gets a cgroup namespace, the name=systemd
    /// hierarchy and runtime units (SystemdGuest).
    public var runsSystemd: Bool { SystemdGuest.isSystemd(initPath: config.initArguments[0], rootfs: rootfs) }
}
