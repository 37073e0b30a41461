import FerryErrors
import FerrySystem
import Foundation
import Glibc

/// The host side of a container's network: the veth pair between the host's bridge and the
/// container's `eth0`, made at a fresh start, handed to CRIU at a restore, and announced to
/// the network whenever the container appears on a host.
///
/// The pair belongs to the container's network namespace, but Ferry removes the host end
/// itself whenever the container's last task is gone (see removeHostEnd), and with it the
/// host's neighbour entries for the container's addresses: a host the container leaves keeps
/// nothing of it. Links are set up with iproute2's `ip`, the tool every admin reads.
public struct NetworkAttachment: Sendable {
    public let network: ContainerNetwork
    /// The host end's name (see ContainerNetwork.hostInterface).
    public let hostInterface: String

    public init(network: ContainerNetwork, container: ContainerName) {
        self.network = network
        self.hostInterface = ContainerNetwork.hostInterface(for: container)
    }

    /// Refuses a host without the bridge, before anything starts or freezes.
    public static func requireBridge(_ bridge: String) throws(FerryError) {
        guard try bridgeExists(bridge) else {
            throw FerryError(
                .notFound,
                "bridge \(bridge) does not exist on this host; create it (ip link add \(bridge) type bridge && ip link set \(bridge) up) or choose another with --net bridge:NAME")
        }
    }

    /// Whether `name` is a bridge in the caller's network namespace (not /sys, which shows
    /// the namespace that mounted it).
    public static func bridgeExists(_ name: String) throws(FerryError) -> Bool {
        let output = try Spawn.run(["ip", "-details", "-json", "link", "show", "dev", name])
        guard output.status == 0 else { return false }
        struct Link: Decodable {
            struct Info: Decodable { var info_kind: String? }
            var linkinfo: Info?
        }
        let links = (try? JSONDecoder().decode([Link].self, from: Data(output.stdout.utf8))) ?? []
        return links.first?.linkinfo?.info_kind == "bridge"
    }

    /// Removes the host end (and with it eth0), when the container's last task is gone
    /// and before it starts or is restored: the kernel frees a dead namespace's links only
    /// once nothing holds it (a closed socket retrying its FIN can, for minutes), and a
    /// restart right after would find the name taken. Called with the container's lock
    /// held or by its monitor, with no task of it left, so a link of this name is a leftover.
    ///
    /// The host's own neighbour entries for the container's addresses go too: they name the
    /// right MAC, but a host the container has left must not answer for where it is.
    public func removeHostEnd() {
        _ = try? Spawn.run(["ip", "link", "delete", "dev", hostInterface])
        for address in network.addresses {
            _ = try? Spawn.run(["ip", "neigh", "flush", "to", address.address.description])
        }
    }

    /// A fresh start: the pair is made with its inside end already in the init's network
    /// namespace, the host end joins the bridge, and eth0 gets its addresses and routes.
    /// IPv6 addresses skip duplicate address detection: they are this container's by
    /// configuration, and a tentative address would make every restore wait a second.
    public func attach(initPid: pid_t) throws(FerryError) {
        try Self.requireBridge(network.bridge)
        removeHostEnd()
        let interface = ContainerNetwork.interface
        try Spawn.check(
            ["ip", "link", "add", "dev", hostInterface, "type", "veth", "peer", "name", interface,
             "address", network.mac.description, "netns", "\(initPid)"],
            "create the veth pair \(hostInterface)/\(interface)")
        try Spawn.check(["ip", "link", "set", "dev", hostInterface, "master", network.bridge, "up"], "attach \(hostInterface) to bridge \(network.bridge)")
        let inside = ["nsenter", "--net=/proc/\(initPid)/ns/net", "--", "ip"]
        for address in network.addresses {
            try Spawn.check(
                inside + ["address", "add", address.description, "dev", interface] + (address.address.family == .v6 ? ["nodad"] : []),
                "add address \(address) to \(interface)")
        }
        try Spawn.check(inside + ["link", "set", "dev", interface, "up"], "bring \(interface) up")
        for gateway in network.gateways {
            try Spawn.check(
                inside + [gateway.family == .v6 ? "-6" : "-4", "route", "add", "default", "via", gateway.description, "dev", interface],
                "add the default route via \(gateway)")
        }
    }

    /// CRIU's `--external` for a restore: the dumped eth0's peer is created as the host end
    /// in the restoring process's network namespace and joined to the bridge.
    public var restoreExternal: String { "veth[\(ContainerNetwork.interface)]:\(hostInterface)@\(network.bridge)" }

    /// Tells the network the container is here now (after a restore, a migration's commit):
    /// its MAC is unchanged, but the switches must learn the new port at once rather than
    /// when the container happens to speak. Best effort: a lost announcement only delays.
    public func announce(initPid: pid_t) throws(FerryError) {
        let namespace = try OwnedFileDescriptor.open("/proc/\(initPid)/ns/net", O_RDONLY)
        for address in network.addresses {
            try Namespaces.announce(
                address: address.address.bytes, mac: network.mac.bytes, interface: ContainerNetwork.interface,
                namespace: namespace.rawValue)
        }
    }
}
