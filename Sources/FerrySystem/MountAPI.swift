internal import CLinux
import FerryErrors
import Glibc

/// Mount attributes settable with mount_setattr(2) or at fsmount(2) time.
public struct MountAttributes: OptionSet, Sendable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public static let readOnly = MountAttributes(rawValue: FY_MOUNT_ATTR_RDONLY)
    public static let noSetuid = MountAttributes(rawValue: FY_MOUNT_ATTR_NOSUID)
    public static let noDevices = MountAttributes(rawValue: FY_MOUNT_ATTR_NODEV)
    public static let noExec = MountAttributes(rawValue: FY_MOUNT_ATTR_NOEXEC)
}

/// A mount that exists only as a file descriptor until it is attached somewhere.
///
/// Ferry builds mounts detached (open_tree or fsopen/fsmount) and attaches them to a
/// descriptor it resolved safely inside the container root, so no path string is ever
/// re-resolved between the check and the mount.
public struct DetachedMount: Sendable {
    public let fd: OwnedFileDescriptor

    /// A copy of the mount tree at `path` (recursive when asked), as `mount --bind` makes.
    /// The corresponding C function is `open_tree`.
    public static func bind(_ path: String, recursive: Bool = true) throws(FerryError) -> DetachedMount {
        var flags = FY_OPEN_TREE_CLONE | FY_OPEN_TREE_CLOEXEC
        if recursive { flags |= FY_AT_RECURSIVE }
        let fd = try syscall("open_tree", path: path) { fy_open_tree(AT_FDCWD, path, flags) }
        return DetachedMount(fd: OwnedFileDescriptor(taking: fd))
    }

    /// A fresh superblock of `type` configured with string options (nil value = flag).
    /// The corresponding C functions are `fsopen`, `fsconfig` and `fsmount`.
    public static func filesystem(
        _ type: String, source: String? = nil, options: [(String, String?)] = [],
        attributes: MountAttributes = []
    ) throws(FerryError) -> DetachedMount {
        let context = OwnedFileDescriptor(
            taking: try syscall("fsopen(\(type))") { fy_fsopen(type, FY_FSOPEN_CLOEXEC) })
        if let source {
            try syscall("fsconfig(\(type), source)") {
                fy_fsconfig(context.rawValue, FY_FSCONFIG_SET_STRING, "source", source, 0)
            }
        }
        for (key, value) in options {
            try syscall("fsconfig(\(type), \(key))") {
                if let value {
                    return fy_fsconfig(context.rawValue, FY_FSCONFIG_SET_STRING, key, value, 0)
                }
                return fy_fsconfig(context.rawValue, FY_FSCONFIG_SET_FLAG, key, nil, 0)
            }
        }
        try syscall("fsconfig(\(type), create)") {
            fy_fsconfig(context.rawValue, FY_FSCONFIG_CMD_CREATE, nil, nil, 0)
        }
        let mountFD = try syscall("fsmount(\(type))") {
            fy_fsmount(context.rawValue, FY_FSMOUNT_CLOEXEC, UInt32(truncatingIfNeeded: attributes.rawValue))
        }
        return DetachedMount(fd: OwnedFileDescriptor(taking: mountFD))
    }

    /// Sets attributes on the whole detached tree. The C function is `mount_setattr`.
    public func set(_ attributes: MountAttributes) throws(FerryError) {
        try syscall("mount_setattr") {
            fy_mount_setattr(
                fd.rawValue, "", FY_AT_EMPTY_PATH | FY_AT_RECURSIVE, attributes.rawValue, 0, 0)
        }
    }

    /// Makes the detached mount show files through `userNamespace`'s map: what is owned
    /// by id N on disk is seen as the map's N (a shared template seen as a range's own).
    /// The corresponding C function is `mount_setattr` (MOUNT_ATTR_IDMAP).
    public func idmap(through userNamespace: OwnedFileDescriptor) throws(FerryError) {
        try syscall("mount_setattr(MOUNT_ATTR_IDMAP)") { fy_mount_set_idmap(fd.rawValue, userNamespace.rawValue) }
    }

    /// Attaches the mount on top of the file or directory open as `target`.
    /// The corresponding C function is `move_mount`.
    public func attach(to target: OwnedFileDescriptor, describing path: String) throws(FerryError) {
        try syscall("move_mount", path: path) {
            fy_move_mount(
                fd.rawValue, "", target.rawValue, "",
                FY_MOVE_MOUNT_F_EMPTY_PATH | FY_MOVE_MOUNT_T_EMPTY_PATH)
        }
    }

    /// Attaches the mount at an absolute path.
    public func attach(at path: String) throws(FerryError) {
        try syscall("move_mount", path: path) {
            fy_move_mount(fd.rawValue, "", AT_FDCWD, path, FY_MOVE_MOUNT_F_EMPTY_PATH)
        }
    }
}

/// The classic mount(2) calls Ferry still needs: propagation changes and plain mounts.
public enum Mounts {
    public struct Flags: OptionSet, Sendable {
        public let rawValue: UInt
        public init(rawValue: UInt) { self.rawValue = rawValue }
        public static let bind = Flags(rawValue: FY_MS_BIND)
        public static let recursive = Flags(rawValue: FY_MS_REC)
        public static let `private` = Flags(rawValue: FY_MS_PRIVATE)
        public static let slave = Flags(rawValue: FY_MS_SLAVE)
        public static let shared = Flags(rawValue: FY_MS_SHARED)
        public static let readOnly = Flags(rawValue: FY_MS_RDONLY)
        public static let noSetuid = Flags(rawValue: FY_MS_NOSUID)
        public static let noDevices = Flags(rawValue: FY_MS_NODEV)
        public static let noExec = Flags(rawValue: FY_MS_NOEXEC)
        public static let remount = Flags(rawValue: FY_MS_REMOUNT)
    }

    /// The corresponding C function is `mount`.
    public static func mount(
        source: String?, target: String, type: String?, flags: Flags, data: String? = nil
    ) throws(FerryError) {
        try syscall("mount", path: target) { fy_mount(source, target, type, flags.rawValue, data) }
    }

    /// The corresponding C function is `umount2`.
    public static func unmount(_ target: String, detach: Bool = false) throws(FerryError) {
        try syscall("umount2", path: target) { fy_umount2(target, detach ? FY_MNT_DETACH : 0) }
    }

    /// Makes `new` the root of the caller's mount namespace and detaches the old root.
    ///
    /// Uses the `pivot_root(".", ".")` idiom: no put_old directory is needed inside the new
    /// root, so nothing is left behind in the container's tree.
    public static func pivotRoot(to newRoot: String) throws(FerryError) {
        try syscall("chdir", path: newRoot) { Glibc.chdir(newRoot) }
        try syscall("pivot_root", path: newRoot) { fy_pivot_root(".", ".") }
        try syscall("umount2", path: "old root") { fy_umount2(".", FY_MNT_DETACH) }
        try syscall("chdir") { Glibc.chdir("/") }
    }
}
