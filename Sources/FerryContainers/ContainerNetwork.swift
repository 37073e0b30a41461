import FerryErrors
import Glibc

/// A container's network identity (`--net bridge:BRIDGE --ip … --mac …`): one interface
/// inside, `eth0`, on a veth pair whose host end joins a bridge of the host.
///
/// The identity is the container's, not the host's: the same MAC and addresses wherever it
/// runs, so a migrated container is the same machine on the same network and its peers'
/// neighbour caches stay right. Only the bridge's name must exist on every host it visits.
/// Without a network the container still has its own network namespace, with `lo` only.
public struct ContainerNetwork: Sendable, Codable, Equatable {
    /// The name of the interface inside the container.
    public static let interface = "eth0"

    public var bridge: String
    public var mac: MACAddress
    public var addresses: [InterfaceAddress]
    /// Default routes, at most one per address family.
    public var gateways: [IPAddress]

    public init(bridge: String, mac: MACAddress, addresses: [InterfaceAddress] = [], gateways: [IPAddress] = []) {
        self.bridge = bridge
        self.mac = mac
        self.addresses = addresses
        self.gateways = gateways
    }

    /// The host end's name, derived from the container's name so that every host (and a
    /// restore after a crash) gives it the same one; 14 characters, under IFNAMSIZ.
    public static func hostInterface(for name: ContainerName) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a
        for byte in name.value.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return "fy" + (String(repeating: "0", count: 16 - hex.count) + hex).prefix(12)
    }

    /// The addresses as `ip` and status show them.
    public var summary: String {
        let list = addresses.map(\.description).joined(separator: ", ")
        return "\(Self.interface) on bridge \(bridge), mac \(mac)\(list.isEmpty ? "" : ", \(list)")"
    }

    /// Parses the options of `ferry create`. nil: no `--net` (and none of the others).
    public static func parse(
        net: String?, addresses: [String], mac: String?, gateways: [String],
        generateMAC: () -> MACAddress = MACAddress.random
    ) throws(FerryError) -> ContainerNetwork? {
        guard let net, net != "none" else {
            if !addresses.isEmpty || mac != nil || !gateways.isEmpty {
                throw FerryError(.invalidArgument, "--ip, --mac and --gateway need a network; add --net bridge:BRIDGE")
            }
            return nil
        }
        guard net.hasPrefix("bridge:") else {
            throw FerryError(.invalidArgument, "unknown network '\(net)'; use --net bridge:BRIDGE or --net none")
        }
        let bridge = String(net.dropFirst("bridge:".count))
        try validateInterfaceName(bridge, what: "bridge in --net \(net)")
        let parsedAddresses = try addresses.map { (text) throws(FerryError) in try InterfaceAddress(parsing: text) }
        var seen = Set<String>()
        for address in parsedAddresses where !seen.insert(address.address.description).inserted {
            throw FerryError(.invalidArgument, "address \(address.address) is given twice; give each --ip once")
        }
        let parsedGateways = try gateways.map { (text) throws(FerryError) in try IPAddress(parsing: text, what: "--gateway") }
        for family in [IPAddress.Family.v4, .v6] where parsedGateways.filter({ $0.family == family }).count > 1 {
            throw FerryError(.invalidArgument, "more than one \(family) --gateway; give at most one per address family")
        }
        for gateway in parsedGateways where !parsedAddresses.contains(where: { $0.address.family == gateway.family }) {
            throw FerryError(.invalidArgument, "--gateway \(gateway) has no \(gateway.family) --ip to reach it from; add one")
        }
        return ContainerNetwork(
            bridge: bridge, mac: try mac.map { (text) throws(FerryError) in try MACAddress(parsing: text) } ?? generateMAC(),
            addresses: parsedAddresses, gateways: parsedGateways)
    }

    /// A Linux interface name: 1–15 bytes, no '/', ':' or white space, not "." or "..".
    static func validateInterfaceName(_ name: String, what: String) throws(FerryError) {
        let valid = !name.isEmpty && name.utf8.count < 16 && name != "." && name != ".."
            && !name.contains(where: { $0 == "/" || $0 == ":" || $0.isWhitespace })
        guard valid else {
            throw FerryError(.invalidArgument, "\(what): '\(name)' is not an interface name (1-15 characters, no '/', ':' or spaces)")
        }
    }
}

/// An IPv4 or IPv6 address, kept in the canonical text form inet_ntop gives.
public struct IPAddress: Sendable, Codable, Equatable, CustomStringConvertible {
    public enum Family: String, Sendable, Codable, CustomStringConvertible {
        case v4 = "IPv4", v6 = "IPv6"
        public var description: String { rawValue }
    }

    public let family: Family
    /// 4 or 16 bytes, network order.
    public let bytes: [UInt8]

    public init(parsing text: String, what: String) throws(FerryError) {
        var v6 = in6_addr()
        var v4 = in_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            family = .v6
            bytes = withUnsafeBytes(of: v6) { Array($0) }
        } else if inet_pton(AF_INET, text, &v4) == 1 {
            family = .v4
            bytes = withUnsafeBytes(of: v4) { Array($0) }
        } else {
            throw FerryError(.invalidArgument, "\(what) '\(text)' is not an IPv4 or IPv6 address")
        }
    }

    public var description: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        return bytes.withUnsafeBytes { raw in
            guard inet_ntop(family == .v6 ? AF_INET6 : AF_INET, raw.baseAddress, &buffer, socklen_t(buffer.count)) != nil else { return "?" }
            return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { self = try IPAddress(parsing: text, what: "address") } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.message))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// An address with its prefix length, as on an interface (`fd00::10/64`, `10.0.0.2/24`).
public struct InterfaceAddress: Sendable, Codable, Equatable, CustomStringConvertible {
    public let address: IPAddress
    public let prefixLength: Int

    public init(parsing text: String) throws(FerryError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let length = Int(parts[1]) else {
            throw FerryError(.invalidArgument, "--ip '\(text)' needs a prefix length, as in fd00::10/64 or 10.0.0.2/24")
        }
        address = try IPAddress(parsing: String(parts[0]), what: "--ip")
        let maximum = address.family == .v6 ? 128 : 32
        guard (1...maximum).contains(length) else {
            throw FerryError(.invalidArgument, "--ip '\(text)': prefix length \(length) is out of range; give 1-\(maximum)")
        }
        prefixLength = length
    }

    public var description: String { "\(address)/\(prefixLength)" }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { self = try InterfaceAddress(parsing: text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.message))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// An Ethernet address of a container's interface: unicast, never all zeros.
public struct MACAddress: Sendable, Codable, Equatable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) {
        precondition(bytes.count == 6)
        self.bytes = bytes
    }

    public init(parsing text: String) throws(FerryError) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        let octets = parts.compactMap { $0.count == 2 ? UInt8($0, radix: 16) : nil }
        guard parts.count == 6, octets.count == 6 else {
            throw FerryError(.invalidArgument, "--mac '\(text)' is not a MAC address; write it as 02:00:00:aa:bb:cc")
        }
        guard octets[0] & 1 == 0, octets.contains(where: { $0 != 0 }) else {
            throw FerryError(.invalidArgument, "--mac '\(text)' is a multicast or zero address; give a unicast one (first octet even), e.g. 02:00:00:aa:bb:cc")
        }
        bytes = octets
    }

    /// A random locally administered unicast address (02:…, 06:…, …), as LXD and Podman
    /// make them: never a vendor's, never multicast.
    public static func random() -> MACAddress {
        var bytes = (0..<6).map { _ in UInt8.random(in: 0...255) }
        bytes[0] = (bytes[0] & 0xfc) | 0x02
        return MACAddress(bytes: bytes)
    }

    public var description: String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: ":")
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { self = try MACAddress(parsing: text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.message))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
