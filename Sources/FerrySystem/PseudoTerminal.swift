internal import CLinux
import FerryErrors
import Glibc
import SystemPackage

/// A pseudo-terminal on a container's own devpts instance, for `ferry exec -t`.
///
/// The master is opened as the container sees `/dev/pts/ptmx` (resolved inside its root,
/// so a planted symlink cannot hand Ferry a host terminal), and the slave is its peer
/// through TIOCGPTPEER, never looked up by name. The command's terminal is then the
/// container's own: /dev/pts/N inside, and CRIU finds it in the container's devpts.
public struct PseudoTerminal {
    public let master: OwnedFileDescriptor
    public let slave: OwnedFileDescriptor

    /// Opens a pair on the devpts that process `pid` sees at /dev/pts.
    public static func open(inRootOf pid: pid_t) throws(FerryError) -> PseudoTerminal {
        let root = try OwnedFileDescriptor.open("/proc/\(pid)/root", FY_O_PATH | O_DIRECTORY)
        let master: OwnedFileDescriptor
        switch RootedLookup.openInRoot(root, "dev/pts/ptmx", flags: O_RDWR | O_NOCTTY | O_CLOEXEC) {
        case .success(let fd): master = fd
        case .failure(let errno):
            throw FerryError.system("open", errno, path: "/dev/pts/ptmx", "the container has no usable /dev/pts/ptmx (\(errno)); a terminal needs its devpts")
        }
        // The container's ptmx, and nothing else that a rootfs might put there.
        let status = try master.stat()
        guard status.st_mode & S_IFMT == S_IFCHR, DeviceNumber(status.st_rdev) == DeviceNumber(major: 5, minor: 2) else {
            throw FerryError(.unsafePath, "/dev/pts/ptmx in the container is not the pty multiplexer; refusing to use it as a terminal")
        }
        try syscall("ioctl(TIOCSPTLCK)", path: "/dev/pts/ptmx") { fy_pty_unlock(master.rawValue) }
        let peer = try syscall("ioctl(TIOCGPTPEER)", path: "/dev/pts/ptmx") { fy_pty_peer(master.rawValue, O_RDWR | O_NOCTTY | O_CLOEXEC) }
        return PseudoTerminal(master: master, slave: OwnedFileDescriptor(taking: peer))
    }

    /// Gives the terminal the window size of `terminal` (the admin's), if it is one.
    /// The corresponding C function is `ioctl` (TIOCGWINSZ, TIOCSWINSZ).
    public func copyWindowSize(from terminal: Int32) {
        _ = fy_copy_window_size(terminal, master.rawValue)
    }

    /// Whether the terminal's reader gets whole lines (ICANON: the line discipline edits
    /// them and makes ^D an end of file) rather than each byte as it comes (a line editor's
    /// raw mode); nil when the settings cannot be read. Asked on the master, the settings
    /// are the slave's. The corresponding C function is `tcgetattr`.
    public var readsLines: Bool? {
        var settings = termios()
        guard tcgetattr(master.rawValue, &settings) == 0 else { return nil }
        return settings.c_lflag & tcflag_t(ICANON) != 0
    }

    /// How many bytes given to the terminal its reader has not read yet, or nil. In
    /// canonical mode an unread end-of-file mark counts as none (the kernel's own rule).
    /// The corresponding C function is `ioctl` (TIOCGPTPEER, FIONREAD).
    public var unreadInput: Int? {
        let count = fy_pty_unread_input(master.rawValue)
        return count < 0 ? nil : Int(count)
    }

    /// In the command's process, after setsid: makes `fd` its controlling terminal.
    /// The corresponding C function is `ioctl` (TIOCSCTTY).
    public static func becomeControllingTerminal(_ fd: Int32) throws(FerryError) {
        try syscall("ioctl(TIOCSCTTY)") { fy_set_controlling_terminal(fd) }
    }
}

/// The admin's terminal in raw mode for as long as a session relays keystrokes (so ^C,
/// ^Z and line editing reach the container's terminal, not ferry), restored afterwards.
public final class RawTerminalMode {
    private let fd: Int32
    private var saved = termios()

    /// Nil when `fd` is not a terminal (then there is nothing to change).
    public init?(_ fd: Int32) {
        guard isatty(fd) == 1, tcgetattr(fd, &saved) == 0 else { return nil }
        self.fd = fd
        var raw = saved
        cfmakeraw(&raw)
        guard tcsetattr(fd, TCSANOW, &raw) == 0 else { return nil }
    }

    deinit { restore() }

    public func restore() {
        var original = saved
        _ = tcsetattr(fd, TCSANOW, &original)
    }
}
