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

    /// Kept on purpose: CAP_SYS_ADMIN (mounts, systemd, autofs, FUSE), CAP_NET_ADMIN (the
    /// container's own network namespace), CAP_SYS_PTRACE (its own processes: the pid
    /// namespace bounds it), CAP_SYS_BOOT (reboot in a pid namespace ends the container,
    /// not the host), CAP_MKNOD (the device rules decide what may be opened),
    /// CAP_SYS_RESOURCE (rlimits and quotas of its own tasks).
    public static let droppedCapabilities: [DroppedCapability] = [
        .init(number: 16, name: "CAP_SYS_MODULE", reason: "loads code into the host's kernel"),
        .init(number: 17, name: "CAP_SYS_RAWIO", reason: "raw port and memory I/O on the host's hardware"),
        .init(number: 25, name: "CAP_SYS_TIME", reason: "sets the host's clock"),
        .init(number: 30, name: "CAP_AUDIT_CONTROL", reason: "changes the host's audit rules"),
        .init(number: 32, name: "CAP_MAC_OVERRIDE", reason: "bypasses the host's LSM policy"),
        .init(number: 33, name: "CAP_MAC_ADMIN", reason: "changes the host's LSM policy"),
        .init(number: 34, name: "CAP_SYSLOG", reason: "reads and clears the host's kernel log, unhides kernel addresses"),
        .init(number: 35, name: "CAP_WAKE_ALARM", reason: "sets host alarms that wake the machine"),
        .init(number: 36, name: "CAP_BLOCK_SUSPEND", reason: "keeps the host from suspending"),
    ]

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

    /// `ferry status`'s one line.
    public var summary: String {
        switch self {
        case .hardened: "hardened (no \(Self.droppedCapabilities.map(\.name).joined(separator: ", ")); device allow-list; read-only /proc/sys)"
        case .privileged: "privileged (root inside is root on the host)"
        }
    }
}
