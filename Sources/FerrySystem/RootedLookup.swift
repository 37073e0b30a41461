internal import CLinux
import FerryErrors
import Glibc
import SystemPackage

/// Looks paths up as a process whose root is `root` would, with every step kept inside it.
///
/// Walking ROOT/a/b by name would follow an absolute symlink planted in the container to
/// the *host's* root; openat2(RESOLVE_IN_ROOT) resolves it inside ROOT instead, like the
/// container's own processes see it.
public enum RootedLookup {
    /// An O_PATH descriptor of `path` resolved inside `root`; nil when it cannot be reached.
    public static func open(_ path: String, inRoot root: String) -> OwnedFileDescriptor? {
        guard let base = try? OwnedFileDescriptor.open(root, FY_O_PATH | O_DIRECTORY) else { return nil }
        return try? openInRoot(base, String(path.drop { $0 == "/" }), flags: FY_O_PATH | O_CLOEXEC).get()
    }

    /// openat2 of `relative` with `root` as the root directory: absolute symlinks restart
    /// at it, `..` stops at it, and /proc magic links fail with ELOOP. EAGAIN (the kernel
    /// saw a rename race while resolving `..`) is retried a few times. The corresponding C
    /// function is `openat2` (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS).
    public static func openInRoot(_ root: OwnedFileDescriptor, _ relative: String, flags: Int32) -> Result<OwnedFileDescriptor, Errno> {
        let target = relative.isEmpty ? "." : relative
        let resolve = FY_RESOLVE_IN_ROOT | FY_RESOLVE_NO_MAGICLINKS
        var result = valueOrErrno { fy_openat2(root.rawValue, target, UInt64(flags), 0, resolve) }
        for _ in 0..<8 {
            guard case .failure(.resourceTemporarilyUnavailable) = result else { break }
            result = valueOrErrno { fy_openat2(root.rawValue, target, UInt64(flags), 0, resolve) }
        }
        return result.map(OwnedFileDescriptor.init(taking:))
    }

    /// stat(2) of `path` as process `pid` sees it (through /proc/PID/root).
    public static func status(pid: pid_t, path: String) -> stat? {
        try? open(path, inRoot: "/proc/\(pid)/root")?.stat()
    }

    /// The file type (S_IFMT bits) of `path` as process `pid` sees it, from what the kernel
    /// has cached: a mount point on a network share whose server is away answers at once
    /// (a stat would ask the server, and wait for it).
    public static func cachedType(pid: pid_t, path: String) -> mode_t? {
        guard let fd = open(path, inRoot: "/proc/\(pid)/root") else { return nil }
        let type = fy_cached_file_type(fd.rawValue)
        return type < 0 ? nil : mode_t(type)
    }

    /// The host path `path` resolves to inside `root` (symlinks followed there).
    public static func hostPath(of path: String, inRoot root: String) -> String? {
        guard let fd = open(path, inRoot: root) else { return nil }
        return linkTarget(fd.procPath)
    }

    /// readlink(2): what a symlink (or a /proc magic link) points at.
    public static func linkTarget(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink(path, &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
