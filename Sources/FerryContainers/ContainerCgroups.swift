import FerryErrors
import FerrySystem

extension ContainerRuntime {
    /// The container's cgroup in every hierarchy: `ferry/TAG/NAME`, the freezer's path.
    public var cgroups: CgroupSet { CgroupSet(relativePath: "ferry/\(root.tag)/\(config.name.value)") }

    /// A `--userns` container's root gets its cgroups, as it would get them from the host's
    /// systemd (Delegate=yes): its own systemd makes its slices and scopes there. No-op for
    /// the others, whose cgroups stay root's.
    public func delegateCgroups() throws(FerryError) {
        if let map = config.userNamespace { try cgroups.delegate(to: map.base) }
    }

    /// Whether the init is systemd, which gets a cgroup namespace, the name=systemd
    /// hierarchy and runtime units (SystemdGuest).
    public var runsSystemd: Bool { SystemdGuest.isSystemd(initPath: config.initArguments[0], rootfs: rootfs) }
}
