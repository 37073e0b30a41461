internal import CLinux
import FerryErrors
import Glibc

/// The id side of a `--userns` container: its user namespace maps ids 0..<count inside to
/// base..<base+count on the host, so its root is an ordinary, unprivileged id out here.
public enum UserNamespace {
    /// Writes the child's uid and gid maps from the parent (a process with CAP_SETUID and
    /// CAP_SETGID on the host may map any range, and supplementary groups stay allowed).
    /// Must happen before the child acts as anyone: until then its ids are unmapped.
    public static func writeMaps(of pid: pid_t, base: UInt32, count: UInt32) throws(FerryError) {
        let line = "0 \(base) \(count)\n"
        for file in ["uid_map", "gid_map"] {
            let path = "/proc/\(pid)/\(file)"
            // One write: the kernel takes a map in a single write(2) or not at all.
            try OwnedFileDescriptor.open(path, O_WRONLY).write(line)
        }
    }

    /// In a process that just entered or was born in a mapped user namespace: become its
    /// root (uid 0, gid 0, no supplementary groups), i.e. the range's first id on the host.
    /// The corresponding C functions are `setgroups`, `setresgid` and `setresuid`.
    public static func becomeRoot() throws(FerryError) {
        try syscall("setresuid") { fy_become_root() }
    }

    /// A user namespace of its own with the map `0 base count`, open, for idmapping a mount
    /// (`DetachedMount.idmap`); the process that made it is gone when this returns.
    /// The corresponding C functions are `unshare` (in a child) and `open` of /proc/PID/ns/user.
    public static func mapped(base: UInt32, count: UInt32) throws(FerryError) -> OwnedFileDescriptor {
        OwnedFileDescriptor(taking: try syscall("unshare(CLONE_NEWUSER)") { fy_mapped_userns(base, count) })
    }

    /// Adds `offset` to the owner and group of every file under `path` (one filesystem,
    /// symlinks themselves, set-id bits kept): a rootfs made for the host becomes one that
    /// the range's ids own. The corresponding C functions are `nftw`, `lchown` and `chmod`.
    public static func shiftOwnership(of path: String, by offset: UInt32) throws(FerryError) {
        try syscall("lchown", path: path) { fy_shift_ownership(path, UInt(offset)) }
    }
}
