internal import CLinux
import FerryErrors
import Foundation
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

    /// The features by name, as reports and the agent protocol carry them.
    public enum Feature: String, CaseIterable, Sendable, Codable {
        case mountAPI, moveMountSetGroup, openat2, pidfd, autofs, fuse, overlayfs, loop, userfaultfd, softDirty, cgroupFreezer

        /// What CRIU or Ferry needs the feature for, for messages that name a missing one.
        public var purpose: String {
            switch self {
            case .mountAPI: "the new mount API (fsopen, open_tree)"
            case .moveMountSetGroup: "CRIU's mount-v2 engine (MOVE_MOUNT_SET_GROUP)"
            case .openat2: "path resolution inside the container (openat2)"
            case .pidfd: "process handles (pidfd_open)"
            case .autofs: "autofs mounts"
            case .fuse: "FUSE mounts"
            case .overlayfs: "overlayfs"
            case .loop: "insulated storage on a loop image"
            case .userfaultfd: "lazy pages (userfaultfd)"
            case .softDirty: "iterative pre-dump (soft-dirty page tracking)"
            case .cgroupFreezer: "freezing the container (cgroup freezer)"
            }
        }
    }

    public subscript(feature: Feature) -> Bool {
        switch feature {
        case .mountAPI: mountAPI
        case .moveMountSetGroup: moveMountSetGroup
        case .openat2: openat2
        case .pidfd: pidfd
        case .autofs: autofs
        case .fuse: fuse
        case .overlayfs: overlayfs
        case .loop: loop
        case .userfaultfd: userfaultfd
        case .softDirty: softDirty
        case .cgroupFreezer: cgroupFreezer
        }
    }

    /// The features this kernel lacks.
    public var missing: [Feature] { Feature.allCases.filter { !self[$0] } }

    /// The probe's result, remembered for this boot in /run/ferry (a tmpfs that a reboot
    /// empties), like CRIU's `kerndat` cache: every command consults the kernel's features,
    /// and some probes (soft-dirty, userfaultfd) are not free. The key also covers
    /// /proc/filesystems, so loading a module (fuse, overlay) invalidates it.
    public static func cached(directory: String = "/run/ferry") -> KernelFeatures {
        let key = cacheKey()
        let path = "\(directory)/kernel-features.json"
        if let data = FileManager.default.contents(atPath: path),
            let entry = try? JSONDecoder().decode(CacheEntry.self, from: data), entry.key == key
        {
            return entry.features
        }
        let features = probe()
        if let data = try? JSONEncoder().encode(CacheEntry(key: key, features: features)) {
            // Written whole and renamed into place: a concurrent reader sees the old or the new.
            let temporary = "\(path).\(getpid())"
            if (try? makeDirectories(directory, mode: 0o755)) != nil, FileManager.default.createFile(atPath: temporary, contents: data) {
                if rename(temporary, path) != 0 { unlink(temporary) }
            }
        }
        return features
    }

    private struct CacheEntry: Codable {
        var key: String
        var features: KernelFeatures
    }

    /// The boot id, and a digest of the filesystems the kernel knows now.
    private static func cacheKey() -> String {
        let boot = ((try? readText("/proc/sys/kernel/random/boot_id")) ?? "").trimmingNewline
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in ((try? readText("/proc/filesystems")) ?? "").utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        return "\(boot)-\(String(hash, radix: 16))"
    }

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
