import FerryErrors
import FerryMounts
import FerrySystem
import Glibc
import Logging

/// Mounting and unmounting a container's private area (and its overlay root), with the
/// admin's premount/postumount hooks around it, as vzctl does.
///
/// Shared storage is a plain directory and needs no mount; insulated storage is an ext4
/// filesystem on a device or a loop-attached image, mounted only while it is in use.
public struct PrivateArea {
    public let config: ContainerConfig
    public let layout: ContainerLayout
    public let root: StateRoot
    public let logger: Logger

    public init(config: ContainerConfig, layout: ContainerLayout, root: StateRoot, logger: Logger) {
        self.config = config
        self.layout = layout
        self.root = root
        self.logger = logger
    }

    /// The device or image that backs an insulated area.
    var backing: String? {
        switch config.storage {
        case .shared: return nil
        case .insulatedImage(let file, _): return layout.imagePath(file)
        case .insulatedDevice(let path): return path
        }
    }

    /// premount hook, then mount the private area, then the overlay root.
    /// Undoes what it did if a later step fails.
    public func mount() throws(FerryError) {
        try runHook(config.hooks.premount, "premount")
        do throws(FerryError) {
            try mountPrivate()
            do throws(FerryError) {
                try mountOverlay()
            } catch {
                try? unmountPrivate()
                throw error
            }
        } catch {
            try? runHook(config.hooks.postumount, "postumount")
            throw error
        }
    }

    /// Unmounts the overlay root and the private area, then runs the postumount hook.
    public func unmount() throws(FerryError) {
        try unmountOverlay()
        try unmountPrivate()
        try runHook(config.hooks.postumount, "postumount")
    }

    public func mountPrivate() throws(FerryError) {
        guard let backing else { return }
        if try MountTable.isMountPoint(layout.privateArea) { return }
        try makeDirectories(layout.privateArea)
        switch config.storage {
        case .insulatedImage:
            let (device, fd) = try LoopDevice.attach(backing)
            defer { _ = fd }
            try Mounts.mount(source: device, target: layout.privateArea, type: "ext4", flags: [])
            logger.debug("mounted private area", metadata: ["device": "\(device)", "image": "\(backing)"])
        case .insulatedDevice(let path):
            try Self.refuseIfMounted(device: path)
            try Mounts.mount(source: path, target: layout.privateArea, type: "ext4", flags: [])
        case .shared:
            return
        }
    }

    public func unmountPrivate() throws(FerryError) {
        guard backing != nil, try MountTable.isMountPoint(layout.privateArea) else { return }
        try Mounts.unmount(layout.privateArea)
    }

    func mountOverlay() throws(FerryError) {
        guard let template = config.overlayTemplate else { return }
        if try MountTable.isMountPoint(layout.overlayMountPoint) { return }
        guard access(template, F_OK) == 0 else {
            throw FerryError(.notFound, "overlay template \(template) of container \(config.name) is missing")
        }
        for directory in [layout.overlayMountPoint, layout.overlayUpper, layout.overlayWork] {
            try makeDirectories(directory)
        }
        let lower = try mountIdmappedTemplate(template)
        do throws(FerryError) {
            try DetachedMount.filesystem(
                "overlay", source: "overlay",
                options: [("lowerdir", lower), ("upperdir", layout.overlayUpper), ("workdir", layout.overlayWork)]
            ).attach(at: layout.overlayMountPoint)
        } catch {
            try? unmountIdmappedTemplate()
            throw error
        }
    }

    /// A `--userns` container sees the shared template through an idmapped bind, so its
    /// root owns the template's root files without a copy or a chown of the template (an
    /// overlay cannot be idmapped itself, and an idmapped upper turns it read-only:
    /// docs/probes/userns.md, 2). The upper layer holds the range's own ids (its root is
    /// chowned at create). Returns the lower directory to use.
    private func mountIdmappedTemplate(_ template: String) throws(FerryError) -> String {
        guard let map = config.userNamespace else { return template }
        let path = layout.idmappedTemplate
        if try MountTable.isMountPoint(path) { return path }
        try makeDirectories(path)
        let bind = try DetachedMount.bind(template, recursive: false)
        try bind.idmap(through: try UserNamespace.mapped(base: map.base, count: map.count))
        try bind.set(.readOnly)
        try bind.attach(at: path)
        return path
    }

    private func unmountIdmappedTemplate() throws(FerryError) {
        guard config.userNamespace != nil, access(layout.idmappedTemplate, F_OK) == 0,
            try MountTable.isMountPoint(layout.idmappedTemplate)
        else { return }
        try Mounts.unmount(layout.idmappedTemplate)
    }

    func unmountOverlay() throws(FerryError) {
        guard config.overlayTemplate != nil else { return }
        if try MountTable.isMountPoint(layout.overlayMountPoint) { try Mounts.unmount(layout.overlayMountPoint) }
        try unmountIdmappedTemplate()
    }

    func runHook(_ path: String?, _ name: String) throws(FerryError) {
        guard let path else { return }
        let environment = Spawn.defaultEnvironment + [
            "FERRY_HOOK=\(name)", "FERRY_NAME=\(config.name)", "FERRY_PRIVATE=\(layout.privateArea)",
            "FERRY_ROOTFS=\(layout.rootfs(for: config))", "FERRY_STATE_ROOT=\(root.path)",
        ]
        let output = try Spawn.run([path], environment: environment)
        guard output.status == 0 else {
            throw FerryError(
                .commandFailed, "\(name) hook \(path) of container \(config.name) failed with status \(output.status)",
                cause: .output(command: path, status: output.status, text: output.stderr + output.stdout))
        }
        logger.debug("hook ran", metadata: ["hook": "\(name)", "path": "\(path)"])
    }

    /// The smallest image file worth an ext4 filesystem with room for a container's files
    /// (mkfs.ext4 itself refuses much below this).
    public static let smallestImage: UInt64 = 16 << 20

    /// Creates a sparse image file of `sizeBytes` holding an empty ext4 filesystem.
    public static func createImage(at path: String, sizeBytes: UInt64) throws(FerryError) {
        let fd = try OwnedFileDescriptor.open(path, O_RDWR | O_CREAT | O_EXCL, mode: 0o600)
        try syscall("ftruncate", path: path) { ftruncate(fd.rawValue, off_t(sizeBytes)) }
        fd.close()
        try formatExt4(path)
    }

    /// Formats a device or image as ext4 (lazily: the kernel initializes inode tables later).
    static func formatExt4(_ target: String) throws(FerryError) {
        try Spawn.check(["mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=1,lazy_journal_init=1", target], "cannot format \(target) as ext4")
    }

    /// Refuses a block device that is mounted anywhere on this host: two mounts of one ext4
    /// from two places would corrupt it.
    public static func refuseIfMounted(device: String) throws(FerryError) {
        var info = Glibc.stat()
        guard stat(device, &info) == 0 else {
            throw FerryError(.notFound, "device \(device) does not exist")
        }
        guard (info.st_mode & S_IFMT) == S_IFBLK else {
            throw FerryError(.invalidArgument, "\(device) is not a block device; give a device such as /dev/sdb1 or use --image SIZE")
        }
        let number = DeviceNumber(info.st_rdev).description
        if let mount = try MountTable.current().first(where: { $0.device == number }) {
            throw FerryError(
                .busy,
                "device \(device) is already mounted at \(mount.mountPoint); unmount it first or choose another device")
        }
    }
}
