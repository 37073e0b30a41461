import FerryErrors
import FerrySystem
import Glibc

/// A `--userns` container's /dev: a tmpfs on the host, in the container's directory, with
/// the usual nodes, owned by the container's root.
///
/// Nobody can make a device node inside a user namespace, CRIU's restore included (it
/// would recreate a dumped /dev tmpfs there and fail at the first mknod). So the monitor
/// makes this one before every start and restore, the init binds it at /dev, and a
/// checkpoint hands it to CRIU as an external mount (ContainerConfig.hostMountDestinations),
/// which the restore binds from the same place on whichever host it runs. What the
/// container writes into /dev itself lives only until it stops or is checkpointed.
public struct UserNamespaceDevices {
    public let layout: ContainerLayout
    public let map: UserNamespaceMap
    /// The `--allow-device`s, made with the usual nodes.
    public let devices: [OptionalDevice]

    public init(layout: ContainerLayout, map: UserNamespaceMap, devices: [OptionalDevice] = []) {
        self.layout = layout
        self.map = map
        self.devices = devices
    }

    /// Where the container sees it: its /dev, an external mount to CRIU, with the mounts
    /// made on it inside (devpts, shm) recreated on it before a restore.
    public static let mountPoint = "/dev"

    public var path: String { layout.deviceDirectory }

    public func mount() throws(FerryError) {
        if try MountTable.isMountPoint(path) { return }
        try makeDirectories(path)
        let owner = "\(map.base)"
        try DetachedMount.filesystem(
            "tmpfs", source: "ferry-dev",
            options: [("mode", "755"), ("size", "65536k"), ("uid", owner), ("gid", owner)], attributes: [.noSetuid]
        ).attach(at: path)
        do throws(FerryError) {
            let directory = try OwnedFileDescriptor.open(path, O_RDONLY | O_DIRECTORY)
            try ContainerInitSetup.populateDevices(directory, console: true, optional: devices, owner: map.base)
        } catch {
            try? unmount()
            throw error
        }
    }

    public func unmount() throws(FerryError) {
        guard access(path, F_OK) == 0, try MountTable.isMountPoint(path) else { return }
        try Mounts.unmount(path, detach: true)
    }
}
