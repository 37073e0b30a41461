internal import CLinux
import FerryErrors
import Glibc

/// The namespaces a container gets, as clone/unshare/setns flags.
public struct NamespaceSet: OptionSet, Sendable, Hashable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public static let mount = NamespaceSet(rawValue: FY_CLONE_NEWNS)
    public static let pid = NamespaceSet(rawValue: FY_CLONE_NEWPID)
    public static let uts = NamespaceSet(rawValue: FY_CLONE_NEWUTS)
    public static let ipc = NamespaceSet(rawValue: FY_CLONE_NEWIPC)
    public static let network = NamespaceSet(rawValue: FY_CLONE_NEWNET)
    public static let cgroup = NamespaceSet(rawValue: FY_CLONE_NEWCGROUP)
    /// A `--userns` container's: its root is an unprivileged id range on the host.
    public static let user = NamespaceSet(rawValue: FY_CLONE_NEWUSER)
    /// CRIU gives every restored tree a time namespace of its own (clocks continue).
    public static let time = NamespaceSet(rawValue: FY_CLONE_NEWTIME)

    /// What a Ferry system container runs in.
    public static let container: NamespaceSet = [.mount, .pid, .uts, .ipc, .network]

}

public enum Namespaces {
    /// Joins the namespaces of the process behind `pidfd` in one setns(2) call.
    ///
    /// The mount namespace can only be joined by a single-threaded process; Ferry calls this
    /// in a freshly forked child. The corresponding C function is `setns`.
    public static func enter(_ set: NamespaceSet, of pidfd: Int32) throws(FerryError) {
        try syscall("setns") { fy_setns(pidfd, Int32(truncatingIfNeeded: set.rawValue)) }
    }

    /// Sets the host name of the caller's uts namespace.
    /// The corresponding C function is `sethostname`.
    public static func setHostname(_ name: String) throws(FerryError) {
        try syscall("sethostname") { fy_sethostname(name, name.utf8.count) }
    }

    /// Brings a network interface of the caller's network namespace up (lo in a fresh one).
    /// The corresponding C function is `ioctl` (SIOCSIFFLAGS with IFF_UP).
    public static func bringUp(interface name: String) throws(FerryError) {
        try syscall("bring up \(name)") { fy_interface_up(name) }
    }

    /// Announces that `address` (4 or 16 bytes) now lives at `mac` on `interface` of the
    /// network namespace behind `namespace` (a /proc/PID/ns/net descriptor): an unsolicited
    /// neighbour advertisement (IPv6) or a gratuitous ARP (IPv4), sent from inside it. Only
    /// the calling thread enters the namespace, and it is back before this returns.
    /// The corresponding C functions are `setns`, `socket` and `sendto`.
    public static func announce(address: [UInt8], mac: [UInt8], interface: String, namespace: Int32) throws(FerryError) {
        precondition(mac.count == 6 && (address.count == 4 || address.count == 16))
        try syscall("announce on \(interface)") {
            fy_announce_address(namespace, interface, mac, address, address.count == 16 ? AF_INET6 : AF_INET)
        }
    }

    /// The inode number that identifies a namespace, from /proc/PID/ns/NAME.
    public static func identity(pid: Int32, _ name: String) -> UInt64? {
        fileStatus("/proc/\(pid)/ns/\(name)").map { UInt64($0.st_ino) }
    }
}
