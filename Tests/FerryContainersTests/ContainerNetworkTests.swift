import FerryContainers
import FerryErrors
import Foundation
import Testing

/// `--net`, `--ip`, `--mac`, `--gateway`: what is accepted, how it is kept, what is refused.
@Suite struct ContainerNetworkTests {
    static func fixedMAC() -> MACAddress { MACAddress(bytes: [2, 0, 0, 0, 0, 9]) }

    @Test func aBridgeNetworkKeepsCanonicalAddressesAndTheGivenMAC() throws {
        let network = try #require(try ContainerNetwork.parse(
            net: "bridge:br0", addresses: ["fd00:fe:0:0::100/64", "10.0.0.2/24"], mac: "02:AA:bb:00:00:01", gateways: ["10.0.0.1"]))
        #expect(network.bridge == "br0")
        #expect(network.addresses.map(\.description) == ["fd00:fe::100/64", "10.0.0.2/24"])
        #expect(network.mac.description == "02:aa:bb:00:00:01")
        #expect(network.gateways.map(\.description) == ["10.0.0.1"])
    }

    @Test func noNetworkIsNil() throws {
        #expect(try ContainerNetwork.parse(net: nil, addresses: [], mac: nil, gateways: []) == nil)
        #expect(try ContainerNetwork.parse(net: "none", addresses: [], mac: nil, gateways: []) == nil)
    }

    @Test func aGeneratedMACIsLocallyAdministeredUnicast() throws {
        for _ in 0..<64 {
            let mac = MACAddress.random()
            #expect(mac.bytes[0] & 0x03 == 0x02, "\(mac)")
        }
        let network = try ContainerNetwork.parse(net: "bridge:br0", addresses: [], mac: nil, gateways: [], generateMAC: Self.fixedMAC)
        #expect(network?.mac.description == "02:00:00:00:00:09")
    }

    @Test func theConfigRoundTripsAsText() throws {
        let network = try #require(try ContainerNetwork.parse(net: "bridge:br0", addresses: ["fd00::1/64"], mac: "02:00:00:00:00:01", gateways: []))
        let data = try JSONEncoder().encode(network)
        #expect(String(decoding: data, as: UTF8.self).contains("\"fd00::1\\/64\""))
        #expect(try JSONDecoder().decode(ContainerNetwork.self, from: data) == network)
    }

    @Test func theHostEndNameIsStableAndFitsIFNAMSIZ() throws {
        let name = try ContainerName("web")
        let end = ContainerNetwork.hostInterface(for: name)
        #expect(end == ContainerNetwork.hostInterface(for: try ContainerName("web")))
        #expect(end != ContainerNetwork.hostInterface(for: try ContainerName("web2")))
        #expect(end.hasPrefix("fy") && end.utf8.count == 14)
    }

    static let refusals: [(net: String?, ip: [String], mac: String?, gateway: [String], message: String)] = [
        (nil, ["fd00::1/64"], nil, [], "need a network; add --net bridge:BRIDGE"),
        ("macvlan:eth0", [], nil, [], "unknown network 'macvlan:eth0'"),
        ("bridge:", [], nil, [], "is not an interface name"),
        ("bridge:a-very-long-bridge", [], nil, [], "is not an interface name"),
        ("bridge:br/0", [], nil, [], "is not an interface name"),
        ("bridge:br0", ["fd00::1"], nil, [], "needs a prefix length"),
        ("bridge:br0", ["fd00::zz/64"], nil, [], "is not an IPv4 or IPv6 address"),
        ("bridge:br0", ["10.0.0.1/33"], nil, [], "prefix length 33 is out of range; give 1-32"),
        ("bridge:br0", ["fd00::1/64", "fd00::1/64"], nil, [], "is given twice"),
        ("bridge:br0", [], "02:00:00:00:00", [], "is not a MAC address"),
        ("bridge:br0", [], "01:00:5e:00:00:01", [], "is a multicast or zero address"),
        ("bridge:br0", [], "00:00:00:00:00:00", [], "is a multicast or zero address"),
        ("bridge:br0", ["10.0.0.2/24"], nil, ["fd00::1"], "has no IPv6 --ip"),
        ("bridge:br0", ["10.0.0.2/24"], nil, ["10.0.0.1", "10.0.0.254"], "more than one IPv4 --gateway"),
    ]

    @Test(arguments: 0..<refusals.count) func badInputIsOneLineNamingTheValue(_ index: Int) {
        let row = Self.refusals[index]
        do {
            _ = try ContainerNetwork.parse(net: row.net, addresses: row.ip, mac: row.mac, gateways: row.gateway)
            Issue.record("accepted: \(row)")
        } catch {
            #expect(error.message.contains(row.message), "\(error.message)")
            #expect(!error.message.contains("\n"))
        }
    }
}
