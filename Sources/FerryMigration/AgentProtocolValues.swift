import FerryContainers
import FerryErrors
import FerrySystem
import Foundation

// The one place where Ferry's internal values become wire payloads and back, so a change
// to an internal type shows up here, next to the protocol version, and nowhere else.

extension AgentRequest.StorageProbe {
    init(_ probe: SharedStorageProbe) {
        self.init(uuid: probe.uuid, token: probe.token, offset: probe.offset)
    }

    var value: SharedStorageProbe { SharedStorageProbe(uuid: uuid, token: token, offset: offset) }
}

extension AgentRequest.DumpLocation {
    init(_ device: DumpDevice) {
        self.init(uuid: device.uuid, directory: device.directory)
    }

    var value: DumpDevice { DumpDevice(uuid: uuid, directory: directory) }
}

extension AgentRequest.Prepare {
    init(config: ContainerConfig) throws(FerryError) {
        self.init(config: String(decoding: try JSONFile.encode(config), as: UTF8.self))
    }

    /// The config document, checked as the target would check its own config.json.
    func containerConfig() throws(FerryError) -> ContainerConfig {
        let config = try JSONFile.decode(ContainerConfig.self, from: Data(config.utf8), what: "the config the source sent")
        guard config.format <= ContainerConfig.currentFormat else {
            throw FerryError(
                .invalidArgument,
                "the source sent a config of format \(config.format); this Ferry understands up to \(ContainerConfig.currentFormat): upgrade Ferry on the target")
        }
        return config
    }
}

extension KernelFeatures {
    /// The features by name, for the wire.
    var byName: [String: Bool] {
        Dictionary(uniqueKeysWithValues: Feature.allCases.map { ($0.rawValue, self[$0]) })
    }
}
