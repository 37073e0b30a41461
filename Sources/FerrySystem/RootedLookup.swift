internal import CLinux
import FerryErrors
import Glibc

/// Looks paths up as a process whose root is `root` would, with every step kept inside it.
///
/// Walking ROOT/a/b by name would follow an absolute symlink planted in the container to
/// the *host's* root; openat2(RESOLVE_IN_ROOT) resolves it inside ROOT instead, like the
/// container's own processes see it.
public enum RootedLookup {
    /// An O_PATH descriptor of `path` resolved inside `root`; nil when it cannot be reached.
    public static func open(_ path: String, inRoot root: String) -> OwnedFileDescriptor? {
        guard let base = try? OwnedFileDescriptor.open(root, FY_O_PATH | O_DIRECTORY) else { return nil }
        let relative = String(path.drop { $0 == "/" })
        let flags = UInt64(FY_O_PATH | O_CLOEXEC)
        let resolve = FY_RESOLVE_IN_ROOT | FY_RESOLVE_NO_MAGICLINKS
        guard case .success(let fd) = valueOrErrno({ fy_openat2(base.rawValue, relative.isEmpty ? "." : relative, flags, 0, resolve) })
        else { return nil }
        return OwnedFileDescriptor(taking: fd)
    }

    /// stat(2) of `path` as process `pid` sees it (through /proc/PID/root).
    public static func status(pid: pid_t, path: String) -> stat? {
        try? open(path, inRoot: "/proc/\(pid)/root")?.stat()
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
