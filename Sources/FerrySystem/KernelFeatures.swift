internal import CLinux
import FerryErrors
import Glibc

/// What this kernel offers Ferry, probed once by trying each feature for real.
///
/// Probing beats version checks: a distribution kernel may lack a config option its version
/// would imply (this machine's kernel has no soft-dirty tracking, for example).
public struct KernelFeatures: Sendable, Codable, Equatable {
    public var release: String
    public var mountAPI: Bool
    public var moveMountSetGroup: Bool
    public var openat2: Bool
    public var pidfd: Bool
    public var autofs: Bool
    public var fuse: Bool
    public var overlayfs: Bool
    public var loop: Bool
    public var userfaultfd: Bool
    public var softDirty: Bool
    public var cgroupFreezer: Bool

    public static func probe() -> KernelFeatures {
        let filesystems = (try? readText("/proc/filesystems")) ?? ""
        func hasFilesystem(_ name: String) -> Bool {
            filesystems.split(separator: "\n").contains { $0.split(separator: "\t").last == Substring(name) }
        }
        var uts = utsname()
        uname(&uts)
        let release = withUnsafeBytes(of: uts.release) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        return KernelFeatures(
            release: release,
            mountAPI: probeMountAPI(),
            moveMountSetGroup: probeMoveMountSetGroup(),
            openat2: probeOpenat2(),
            pidfd: probePidfd(),
            autofs: hasFilesystem("autofs") && access("/dev/autofs", F_OK) == 0,
            fuse: hasFilesystem("fuse") && access("/dev/fuse", F_OK) == 0,
            overlayfs: hasFilesystem("overlay"),
            loop: access("/dev/loop-control", F_OK) == 0,
            userfaultfd: probeUserfaultfd(),
            softDirty: probeSoftDirty(),
            cgroupFreezer: CgroupFreezer.hierarchy() != nil)
    }

    /// fsopen/fsmount of a tmpfs succeeds.
    private static func probeMountAPI() -> Bool {
        (try? DetachedMount.filesystem("tmpfs")) != nil
    }

    /// The kernel rejects unknown move_mount flags with EINVAL before looking at the fds,
    /// so EBADF on bad fds means MOVE_MOUNT_SET_GROUP is understood.
    private static func probeMoveMountSetGroup() -> Bool {
        let result = fy_move_mount(-1, "", -1, "", FY_MOVE_MOUNT_SET_GROUP)
        return result == -1 && errno != EINVAL && errno != ENOSYS
    }

    private static func probeOpenat2() -> Bool {
        let fd = fy_openat2(AT_FDCWD, "/", UInt64(FY_O_PATH | O_CLOEXEC), 0, FY_RESOLVE_NO_MAGICLINKS)
        if fd >= 0 { close(fd) }
        return fd >= 0
    }

    private static func probePidfd() -> Bool {
        let fd = fy_pidfd_open(getpid(), 0)
        if fd >= 0 { close(fd) }
        return fd >= 0
    }

    private static func probeUserfaultfd() -> Bool {
        let fd = fy_userfaultfd_probe()
        if fd >= 0 { close(fd) }
        return fd >= 0
    }

    /// CRIU's own test: a freshly written page must carry the soft-dirty bit (55) in
    /// /proc/self/pagemap. Writing to clear_refs succeeds even without the feature.
    private static func probeSoftDirty() -> Bool {
        let size = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard let page = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
            page != MAP_FAILED
        else { return false }
        defer { munmap(page, size) }
        page.storeBytes(of: 1, as: UInt8.self)
        guard let pagemap = try? OwnedFileDescriptor.open("/proc/self/pagemap", O_RDONLY) else { return false }
        var entry: UInt64 = 0
        let offset = off_t(UInt(bitPattern: page) / UInt(size) * 8)
        guard pread(pagemap.rawValue, &entry, 8, offset) == 8 else { return false }
        return entry & (1 << 55) != 0
    }
}
