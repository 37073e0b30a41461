import CLinux
import FerryErrors
import Glibc

/// Looks at paths as a process sees them, through its root (/proc/PID/root).
///
/// Walking /proc/PID/root/a/b by name would follow an absolute symlink planted in the
/// container to the *host's* root; openat2(RESOLVE_IN_ROOT) keeps every step inside.
public enum ProcessRoot {
    /// stat(2) of `path` inside the root of process `pid`; nil when it cannot be reached.
    public static func status(pid: pid_t, path: String) -> stat? {
        guard let root = try? OwnedFileDescriptor.open("/proc/\(pid)/root", FY_O_PATH | O_DIRECTORY) else { return nil }
        let relative = path.drop { $0 == "/" }
        let flags = UInt64(FY_O_PATH | O_CLOEXEC)
        let resolve = FY_RESOLVE_IN_ROOT | FY_RESOLVE_NO_MAGICLINKS
        guard case .success(let fd) = valueOrErrno({ fy_openat2(root.rawValue, relative.isEmpty ? "." : String(relative), flags, 0, resolve) })
        else { return nil }
        return try? OwnedFileDescriptor(taking: fd).stat()
    }
}
