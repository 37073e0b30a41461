import FerryErrors
import FerrySystem
import Glibc

/// How much of the host a container's root can reach.
///
/// `hardened` (the default) takes away what lets root inside act on the host while keeping
/// what a system container needs (systemd, mounts, autofs, FUSE, its own network). The
/// rules are applied by the monitor and the init set-up before the init runs, and by
/// `ferry exec` before its command runs; CRIU dumps and restores each task's bounding set,
/// and the target's monitor sets the device rules on the cgroup it creates, so they hold
/// across checkpoint, restore and migration. `privileged` is the old behaviour: root inside
/// is root on the host (dangerous; for an admin who needs it).
public enum SecurityProfile: String, Codable, Sendable, CaseIterable {
    case hardened
    case privileged

    /// A capability taken out of the bounding set, and why.
    public struct DroppedCapability: Sendable {
        public let number: Int32
        public let name: String
        public let reason: String
    }

    /// Kept on purpose: CAP_SYS_ADMIN (mounts, systemd, autofs, FUSE; what it also opens
    /// to the host is taken back by `deniedSyscalls`), CAP_NET_ADMIN (the container's own
    /// network namespace), CAP_SYS_PTRACE (its own processes: the pid namespace bounds it),
    /// CAP_SYS_BOOT (reboot in a pid namespace ends the container, not the host; kexec is
    /// denied below), CAP_MKNOD (the device rules decide what may be opened),
    /// CAP_SYS_RESOURCE (rlimits and quotas of its own tasks), CAP_DAC_OVERRIDE (root
    /// reads and writes its own files whatever their mode).
    public static let droppedCapabilities: [DroppedCapability] = [
        .init(number: 2, name: "CAP_DAC_READ_SEARCH", reason: "open_by_handle_at opens any file of the host's filesystem by number, outside the rootfs"),
        .init(number: 16, name: "CAP_SYS_MODULE", reason: "loads code into the host's kernel"),
        .init(number: 17, name: "CAP_SYS_RAWIO", reason: "raw port and memory I/O on the host's hardware"),
        .init(number: 20, name: "CAP_SYS_PACCT", reason: "switches the host's process accounting on or off"),
        .init(number: 25, name: "CAP_SYS_TIME", reason: "sets the host's clock"),
        .init(number: 30, name: "CAP_AUDIT_CONTROL", reason: "changes the host's audit rules"),
        .init(number: 32, name: "CAP_MAC_OVERRIDE", reason: "bypasses the host's LSM policy"),
        .init(number: 33, name: "CAP_MAC_ADMIN", reason: "changes the host's LSM policy"),
        .init(number: 34, name: "CAP_SYSLOG", reason: "reads and clears the host's kernel log, unhides kernel addresses"),
        .init(number: 35, name: "CAP_WAKE_ALARM", reason: "sets host alarms that wake the machine"),
        .init(number: 36, name: "CAP_BLOCK_SUSPEND", reason: "keeps the host from suspending"),
        .init(number: 37, name: "CAP_AUDIT_READ", reason: "reads the host's audit log"),
        .init(number: 38, name: "CAP_PERFMON", reason: "watches every process and the kernel of the host"),
        .init(number: 39, name: "CAP_BPF", reason: "loads BPF programs and maps into the host's kernel"),
    ]

    /// A system call the hardened profile answers with EPERM (all of it, or only with one
    /// argument), and why. These are reached through CAP_SYS_ADMIN or CAP_SYS_BOOT, which
    /// the container keeps, and act on the whole host rather than on a namespace.
    public struct DeniedSyscall: Sendable {
        public let name: String
        public let rule: SeccompFilter.Rule
        public let reason: String
        /// Only where the container shares the host's user namespace: in its own, what the
        /// call makes is owned by that namespace and reaches nothing of the host's.
        public let withoutUserNamespaceOnly: Bool

        init(
            _ name: String, _ x86_64: UInt32, _ i386: UInt32?, when argument: SeccompFilter.Argument? = nil, errno: Int32? = nil,
            withoutUserNamespaceOnly: Bool = false, _ reason: String
        ) {
            self.name = name
            self.rule = .init(.init(x86_64: x86_64, i386: i386), when: argument, errno: errno)
            self.reason = reason
            self.withoutUserNamespaceOnly = withoutUserNamespaceOnly
        }
    }

    /// mount(2)'s MS_REMOUNT and MS_BIND (linux/mount.h).
    static let remount: UInt32 = 0x20, bind: UInt32 = 0x1000
    /// CLONE_NEWNET (linux/sched.h): the flag in clone's and unshare's first argument.
    static let newNetwork: UInt32 = 0x4000_0000
    /// ioctl requests that act on a whole filesystem (linux/fs.h): FIFREEZE, FITHAW and
    /// FS_IOC_SHUTDOWN (ext4's and XFS's "going down").
    static let freeze: UInt32 = 0xC004_5877, thaw: UInt32 = 0xC004_5878, shutdown: UInt32 = 0x8004_587D

    public static let deniedSyscalls: [DeniedSyscall] = [
        .init("bpf", 321, 357, "BPF programs see and change the host's kernel (CAP_SYS_ADMIN allows them)"),
        .init("perf_event_open", 298, 336, "watches the host's processes and kernel (CAP_SYS_ADMIN allows it)"),
        .init("kexec_load", 246, 283, "loads a new kernel for the host (CAP_SYS_BOOT allows it)"),
        .init("kexec_file_load", 320, nil, "loads a new kernel for the host (CAP_SYS_BOOT allows it)"),
        .init("open_by_handle_at", 304, 342, "opens host files by number, outside the rootfs (also gone with CAP_DAC_READ_SEARCH)"),
        .init("add_key", 248, 286, "kernel keyrings are the host's, not namespaced: root inside would share the host root's"),
        .init("request_key", 249, 287, "kernel keyrings are the host's, not namespaced"),
        .init("keyctl", 250, 288, "kernel keyrings are the host's, not namespaced"),
        .init("swapon", 167, 87, "adds swap to the host"),
        .init("swapoff", 168, 115, "takes the host's swap away"),
        .init("init_module", 175, 128, "loads code into the host's kernel (also gone with CAP_SYS_MODULE)"),
        .init("finit_module", 313, 350, "loads code into the host's kernel (also gone with CAP_SYS_MODULE)"),
        .init("delete_module", 176, 129, "unloads the host's kernel modules (also gone with CAP_SYS_MODULE)"),
        .init("mount (superblock remount)", 165, 21, when: .init(index: 3, mask: remount | bind, value: remount),
              "reconfigures the filesystem under every mount of it, the host's too: `mount -o remount,ro /` inside made the host's filesystem read-only (a bind remount, which changes only the container's mount, stays allowed)"),
        .init("fspick", 433, 433, "opens a filesystem for reconfiguration: the superblock remount of the new mount API"),
        .init("quotactl", 179, 131, "switches quotas of the host's filesystems (a block device node it may make names them)"),
        .init("quotactl_fd", 443, 443, "switches quotas of the filesystem a file is on: the host's, for a rootfs in a directory"),
        .init("ioctl (FIFREEZE)", 16, 54, when: .init(index: 1, value: freeze), "freezes the whole filesystem a file is on: the host's"),
        .init("ioctl (FITHAW)", 16, 54, when: .init(index: 1, value: thaw), "thaws the host's filesystem behind its admin's back"),
        .init("ioctl (FS_IOC_SHUTDOWN)", 16, 54, when: .init(index: 1, value: shutdown), "shuts the whole filesystem a file is on down: the host's"),
        .init("unshare (CLONE_NEWNET)", 272, 310, when: .init(index: 0, mask: newNetwork, value: newNetwork), withoutUserNamespaceOnly: true,
              "a new network namespace has a new, writable sysfs whose global files (/sys/power/state, /sys/kernel/mm/…) are the host's; systemd's PrivateNetwork= then runs without one (it warns and goes on)"),
        .init("clone (CLONE_NEWNET)", 56, 120, when: .init(index: 0, mask: newNetwork, value: newNetwork), withoutUserNamespaceOnly: true,
              "the same network namespace as unshare's, made with a new process"),
        .init("clone3", 435, 435, errno: ENOSYS, withoutUserNamespaceOnly: true,
              "its flags are in memory a filter cannot read; ENOSYS makes the C library fall back to clone, which the rule above sees"),
    ]

    /// The sysctls that belong to the container's own namespaces, which it may write however
    /// it reaches them (CRIU's restore writes the ipc and uts ones back): its network
    /// namespace's, its ipc namespace's (System V limits and next ids, POSIX message
    /// queues), its uts namespace's names and its pid namespace's last pid. The rest of
    /// /proc/sys is the host's: user.* too, since a hardened container shares the host's
    /// user namespace.
    public static let namespacedSysctls: [String] = writableProcSys.map { "\($0)/" } + ["fs/mqueue/"]
        + ["hostname", "domainname", "ns_last_pid"].map { "kernel/\($0)" }
        + ["shmmax", "shmall", "shmmni", "shm_rmid_forced", "msgmax", "msgmni", "msgmnb", "auto_msgmni", "sem",
           "sem_next_id", "msg_next_id", "shm_next_id"].map { "kernel/\($0)" }

    /// The hardened profile's sysctl rule, checked by the kernel on every write whatever
    /// proc it goes through (a fresh one included).
    public static let sysctlGuard = SysctlGuard(writable: namespacedSysctls)

    /// The hardened profile's seccomp programs, built once: for a container in the host's
    /// user namespace, and for one in its own.
    public static let syscallFilter = SeccompFilter(denying: deniedSyscalls.map(\.rule), errno: EPERM)
    public static let userNamespaceSyscallFilter = SeccompFilter(
        denying: deniedSyscalls.filter { !$0.withoutUserNamespaceOnly }.map(\.rule), errno: EPERM)

    /// The device cgroup's allow-list (everything else denied): any node may be made
    /// (a distro's packages make them), only these opened — the nodes Ferry creates in
    /// the container's /dev, its pseudo-terminals, autofs and FUSE.
    public static let allowedDevices = [
        "c *:* m", "b *:* m",
        "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",  // null zero full random urandom
        "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm",  // tty console ptmx pts
        "c 10:235 rwm", "c 10:229 rwm",  // autofs fuse
    ]

    /// /proc entries the host shares with every namespace, made read-only: sysctls
    /// (except /proc/sys/net, which belongs to the container's network namespace),
    /// the magic SysRq trigger, and IRQ and bus settings.
    public static let readOnlyProc = ["sys", "sysrq-trigger", "irq", "bus"]
    /// Where the read-only proc that `readOnlyProc` is bound from is mounted inside.
    public static let readOnlyProcMountPoint = "/dev/.ferry-proc"
    /// /proc/sys subtrees that are the container's own namespace's, kept writable.
    public static let writableProcSys = ["net"]
    /// /proc files about the host hidden behind the container's /dev/null.
    public static let maskedProc = ["kcore", "keys", "timer_list", "sched_debug"]

    /// What the calling process gives up before it execs a container's program (the init,
    /// or `ferry exec`'s command, which must get no more than the init: a task inside could
    /// ptrace it): the bounding set's dropped capabilities, and the seccomp program.
    func confineBeforeExec(userNamespace: Bool) throws(FerryError) {
        guard self == .hardened else { return }
        try ProcessControl.dropFromBoundingSet(Self.droppedCapabilities.map(\.number))
        try (userNamespace ? Self.userNamespaceSyscallFilter : Self.syscallFilter).install()
    }

    /// `ferry status`'s one line.
    public var summary: String {
        switch self {
        case .hardened: "hardened (no \(Self.droppedCapabilities.map(\.name).joined(separator: ", ")); seccomp denies \(Self.deniedSyscalls.count) host-wide calls; device allow-list; read-only /proc/sys and /sys; host sysctls guarded)"
        case .privileged: "privileged (root inside is root on the host)"
        }
    }
}
