import FerryCRIU
import FerryContainers
import FerryErrors
import FerryMounts
import FerrySystem
import Glibc

/// Everything decided before CRIU restores a container: which images, the externals with
/// their host sources on this host, the mount points to create, and the tree to expect.
///
/// The restorer builds it once from the verified manifest and the (remapped) config and
/// writes it next to the container; the monitor's launcher reads it instead of reading
/// and checking the manifest a second time.
public struct RestorePlan: Sendable, Codable, Equatable {
    public var imagesDirectory: String
    /// CRIU `--external` values: `mnt[KEY]:HOSTPATH`.
    public var externals: [String]
    /// Mount points in the container's root filesystem, with the type of what is mounted
    /// there: on another host the rootfs may lack one, and a file bind needs a *file*.
    public var destinations: [Destination]
    /// Mount points inside a `--userns` container's /dev (its devpts, its shm), relative to
    /// it: the host makes that /dev afresh (UserNamespaceDevices), and CRIU mounts on them.
    public var deviceDestinations: [Destination]?
    /// The tree as it was checkpointed, for the check after the restore.
    public var expectedMounts: MountTreeCapture
    /// The container's cgroups below its own, recreated before CRIU runs.
    public var cgroups: [String: [String]]
    /// By share index: what its placeholder shows if the share cannot be mounted (nil
    /// when the container has no shares, or CRIU's files.img could not be read).
    public var shareInventories: [Int: ShareInventory]?
    /// The dumped init's console pipes, which CRIU takes from the restoring monitor (see
    /// ConsolePipes); nil for a checkpoint from before the monitor owned them.
    public var console: ConsoleKeys?
    /// Post-copy: the memory is not in the images; a `criu lazy-pages` daemon serves it.
    public var lazyPages: Bool?

    public struct Destination: Sendable, Codable, Equatable {
        public var path: String
        public var isFile: Bool
    }

    public init(manifest: CheckpointManifest, imagesDirectory: String, config: ContainerConfig, layout: ContainerLayout) throws(FerryError) {
        self.imagesDirectory = imagesDirectory
        externals = try ExternalMountPlan.restoreArguments(manifest.externals, config: config, layout: layout)
        expectedMounts = manifest.mounts
        cgroups = manifest.cgroups ?? [:]
        destinations = Self.destinations(of: manifest)
        if config.userNamespace != nil { deviceDestinations = Self.deviceDestinations(of: manifest) }
        console = manifest.console
        if !config.declaredShares.isEmpty, let files = try? FilesImage(directory: imagesDirectory) {
            shareInventories = ShareInventories.from(files, capture: manifest.mounts, config: config)
        }
    }

    /// Every mount point on the root filesystem, once, in namespace order.
    static func destinations(of manifest: CheckpointManifest) -> [Destination] {
        var seen: Set<String> = []
        var result: [Destination] = []
        let capture = manifest.mounts
        for (namespace, analysis) in zip(capture.namespaces, capture.analyses()) {
            for mount in namespace.mounts where analysis.isOnRootFilesystem(mount) && seen.insert(mount.mountPoint).inserted {
                // Manifests from before file mounts were recorded know it for externals only.
                let external = manifest.externals.first { $0.containerPath == mount.mountPoint }
                let isFile = namespace.fileMounts.contains(mount.id) || external.map { !$0.isDirectory } ?? false
                result.append(Destination(path: mount.mountPoint, isFile: isFile))
            }
        }
        return result
    }

    /// Every mount point on the container's /dev mount, once, relative to /dev.
    static func deviceDestinations(of manifest: CheckpointManifest) -> [Destination] {
        var seen: Set<String> = []
        var result: [Destination] = []
        let capture = manifest.mounts
        let devices = UserNamespaceDevices.mountPoint
        for (namespace, analysis) in zip(capture.namespaces, capture.analyses()) {
            for mount in namespace.mounts where mount.mountPoint.hasPrefix(devices + "/") && analysis.parent(of: mount)?.mountPoint == devices {
                let path = String(mount.mountPoint.dropFirst(devices.count))
                guard seen.insert(path).inserted else { continue }
                result.append(Destination(path: path, isFile: namespace.fileMounts.contains(mount.id)))
            }
        }
        return result
    }

    static func path(for layout: ContainerLayout) -> String { "\(layout.directory)/restore-plan.json" }

    func write(for layout: ContainerLayout) throws(FerryError) {
        try JSONFile.write(self, to: Self.path(for: layout))
    }

    static func read(for layout: ContainerLayout) throws(FerryError) -> RestorePlan {
        try JSONFile.read(RestorePlan.self, from: path(for: layout), what: "restore plan")
    }

    static func remove(for layout: ContainerLayout) {
        unlink(path(for: layout))
    }

    /// Creates the missing mount points inside the rootfs, never outside it.
    func createDestinations(in rootfs: String) throws(FerryError) {
        try Self.create(destinations, in: rootfs)
    }

    /// Creates the mount points inside a `--userns` container's fresh /dev.
    func createDeviceDestinations(in devices: String) throws(FerryError) {
        try Self.create(deviceDestinations ?? [], in: devices)
    }

    /// A mount point the kernel recorded at the checkpoint is a plain path, but the rootfs
    /// may have changed since (a restore elsewhere, a planted symlink): CRIU opens and moves
    /// its mounts by path and follows a symlink, out of the rootfs too, so one on the way
    /// is refused here, before anything is created.
    private static func create(_ destinations: [Destination], in rootfs: String) throws(FerryError) {
        let tree = try ContainedPath(root: rootfs)
        for destination in destinations {
            if let symlink = try tree.firstSymlink(on: destination.path) {
                let kind = symlink == destination.path && destination.isFile ? "file" : "directory"
                throw FerryError(
                    .unsafePath,
                    "mount point \(destination.path) of the checkpoint goes through the symlink \(symlink) in \(rootfs), which CRIU would follow; make \(symlink) a \(kind) again (as when it was checkpointed) and restore again")
            }
        }
        for destination in destinations {
            _ = try tree.openCreating(destination.path, as: destination.isFile ? .file : .directory)
        }
    }
}
