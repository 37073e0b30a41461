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

    /// A system call the hardened profile answers with EPERM, and why. These are reached
    /// through CAP_SYS_ADMIN or CAP_SYS_BOOT, which the container keeps, and act on the
    /// whole host rather than on a namespace.
    public struct DeniedSyscall: Sendable {
        public let name: String
        public let call: SeccompFilter.Call
        public let reason: String
    }

    public static let deniedSyscalls: [DeniedSyscall] = [
        .init(name: "bpf", call: .init(x86_64: 321, i386: 357), reason: "BPF programs see and change the host's kernel (CAP_SYS_ADMIN allows them)"),
        .init(name: "perf_event_open", call: .init(x86_64: 298, i386: 336), reason: "watches the host's processes and kernel (CAP_SYS_ADMIN allows it)"),
        .init(name: "kexec_load", call: .init(x86_64: 246, i386: 283), reason: "loads a new kernel for the host (CAP_SYS_BOOT allows it)"),
        .init(name: "kexec_file_load", call: .init(x86_64: 320, i386: nil), reason: "loads a new kernel for the host (CAP_SYS_BOOT allows it)"),
        .init(name: "open_by_handle_at", call: .init(x86_64: 304, i386: 342), reason: "opens host files by number, outside the rootfs (also gone with CAP_DAC_READ_SEARCH)"),
        .init(name: "add_key", call: .init(x86_64: 248, i386: 286), reason: "kernel keyrings are the host's, not namespaced: root inside would share the host root's"),
        .init(name: "request_key", call: .init(x86_64: 249, i386: 287), reason: "kernel keyrings are the host's, not namespaced"),
        .init(name: "keyctl", call: .init(x86_64: 250, i386: 288), reason: "kernel keyrings are the host's, not namespaced"),
        .init(name: "swapon", call: .init(x86_64: 167, i386: 87), reason: "adds swap to the host"),
        .init(name: "swapoff", call: .init(x86_64: 168, i386: 115), reason: "takes the host's swap away"),
        .init(name: "init_module", call: .init(x86_64: 175, i386: 128), reason: "loads code into the host's kernel (also gone with CAP_SYS_MODULE)"),
        .init(name: "finit_module", call: .init(x86_64: 313, i386: 350), reason: "loads code into the host's kernel (also gone with CAP_SYS_MODULE)"),
        .init(name: "delete_module", call: .init(x86_64: 176, i386: 129), reason: "unloads the host's kernel modules (also gone with CAP_SYS_MODULE)"),
    ]

    /// The hardened profile's seccomp program, built once.
    public static let syscallFilter = SeccompFilter(denying: deniedSyscalls.map(\.call), errno: EPERM)

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
    /// /proc/sys subtrees that are the container's own namespace's, kept writable.
    public static let writableProcSys = ["net"]
    /// /proc files about the host hidden behind the container's /dev/null.
    public static let maskedProc = ["kcore", "keys", "timer_list", "sched_debug"]

    /// What the calling process gives up before it execs a container's program (the init,
    /// or `ferry exec`'s command, which must get no more than the init: a task inside could
    /// ptrace it): the bounding set's dropped capabilities, and the seccomp program.
    func confineBeforeExec() throws(FerryError) {
        guard self == .hardened else { return }
        try ProcessControl.dropFromBoundingSet(Self.droppedCapabilities.map(\.number))
        try Self.syscallFilter.install()
    }

    /// `ferry status`'s one line.
    public var summary: String {
        switch self {
        case .hardened: "hardened (no \(Self.droppedCapabilities.map(\.name).joined(separator: ", ")); no \(Self.deniedSyscalls.map(\.name).joined(separator: ", ")); device allow-list; read-only /proc/sys)"
        case .privileged: "privileged (root inside is root on the host)"
        }
    }
}
