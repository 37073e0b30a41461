import FerryCRIU
import FerryContainers
@testable import FerrySystem

@testable import FerryMigration

enum KernelFeaturesFixture {
    static func all(_ value: Bool, release: String = "6.18.0") -> KernelFeatures {
        KernelFeatures(
            release: release, mountAPI: value, moveMountSetGroup: value, openat2: value, pidfd: value, autofs: value, fuse: value,
            overlayfs: value, loop: value, userfaultfd: value, softDirty: value, cgroupFreezer: value)
    }
}

extension AgentResponse.Hello {
    static func target(
        criu: String? = "4.2.1", kernel: KernelFeatures = KernelFeaturesFixture.all(true), sharedDevice: String? = nil,
        bridges: [String: Bool]? = nil
    ) -> AgentResponse.Hello {
        AgentResponse.Hello(
            protocolVersion: AgentProtocol.version, host: "h2", stateRoot: "/var/lib/ferry", criuVersion: criu,
            kernelRelease: kernel.release, kernelFeatures: kernel.byName, freeBytes: 1 << 40, nameTaken: false, sharedDevice: sharedDevice, bridges: bridges)
    }
}
