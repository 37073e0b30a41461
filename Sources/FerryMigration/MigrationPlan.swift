import FerryCRIU
import FerryContainers
import FerryErrors
import FerrySystem

/// What the source knows about itself and the container before it talks to the target.
struct SourceFacts: Sendable, Equatable {
    var config: ContainerConfig
    var online: Bool
    /// Bytes in the private area (what a copy moves).
    var areaBytes: UInt64
    /// The size the source's area was given (image or device); nil for a directory.
    var areaSizeBytes: UInt64?
    var criuVersion: CRIUVersion?
    var kernel: KernelFeatures
    /// The kernel features restoring this container needs (overlayfs for an overlay root,
    /// fuse for a FUSE mount, …), from its config and its checkpoint plan.
    var needs: Set<KernelFeatures.Feature>
}

/// What the user asked for that shapes the plan.
struct MigrationRequest: Sendable, Equatable {
    var targetStorage: Migrator.Options.TargetStorage?
    var targetImageBytes: UInt64?
    var dumpDevice: DumpDevice?
}

/// A migration decided once, from what both hosts reported, before anything changes: the
/// mode, the steps, how the data and the images travel, the config the target keeps, and
/// every difference between the hosts. Pure, so unit tests build it from facts alone.
struct MigrationPlan: Sendable, Equatable {
    var online: Bool
    var steps: [MigrationStep]
    var targetConfig: ContainerConfig
    var data: DataPath
    var images: ImagePath
    var differences: [Difference]

    /// How the private area gets to the target.
    enum DataPath: Sendable, Equatable {
        /// Copied with rsync: live while the container runs, then the frozen delta.
        case rsync
        /// Both hosts see the device; the target knows it as this path. Nothing is copied.
        case sharedDevice(targetPath: String)
    }

    /// How CRIU's images get to the target.
    enum ImagePath: Sendable, Equatable {
        /// On the image stream: the pages as CRIU dumps them (see ImageStream).
        case stream
        case dumpDevice(DumpDevice)
    }

    /// One way the hosts differ. A blocking one makes the migration refuse before anything
    /// changes (and `--dry-run` say so); the others are reported.
    struct Difference: Sendable, Equatable, CustomStringConvertible {
        var what: String
        var source: String
        var target: String
        var blocking: Bool
        /// Why it blocks, and the fix.
        var consequence: String?

        var description: String {
            "\(what): source \(source), target \(target)" + (consequence.map { " — \($0)" } ?? "")
        }
    }

    var refusals: [Difference] { differences.filter(\.blocking) }

    /// The one refusal, naming every blocking difference.
    func refuseIfBlocked(_ name: ContainerName, target: String) throws(FerryError) {
        guard !refusals.isEmpty else { return }
        throw FerryError(
            .kernelUnsupported,
            "cannot migrate \(name) to \(target): \(refusals.map(\.description).joined(separator: "; "))")
    }

    init(source: SourceFacts, target: AgentResponse.Hello, request: MigrationRequest) {
        online = source.online
        steps = source.online ? MigrationStep.online : MigrationStep.offline
        data = target.sharedDevice.map { .sharedDevice(targetPath: $0) } ?? .rsync
        images = ImagePath(request.dumpDevice)
        targetConfig = Self.targetConfig(source, data: data, request: request)
        differences = Self.differences(source, target, targetConfig: targetConfig)
    }

    /// The container's config as the target will keep it: the storage kind may change
    /// (`--dst-storage`); an insulated area gets an image of its own on the target.
    private static func targetConfig(_ source: SourceFacts, data: DataPath, request: MigrationRequest) -> ContainerConfig {
        var config = source.config
        if case .sharedDevice(let path) = data {
            config.storage = .insulatedDevice(path: path)
            return config
        }
        let size = source.areaSizeBytes ?? max(256 << 20, source.areaBytes * 2)
        switch request.targetStorage ?? (config.storage.isInsulated ? .insulated : .shared) {
        case .shared:
            config.storage = .shared
        case .insulated:
            config.storage = .insulatedImage(file: "private.img", sizeBytes: request.targetImageBytes ?? size)
        }
        return config
    }

    private static func differences(_ source: SourceFacts, _ target: AgentResponse.Hello, targetConfig: ContainerConfig) -> [Difference] {
        var found: [Difference] = []
        let sourceCRIU = source.criuVersion?.description ?? "none"
        let targetVersion = target.criuVersion.flatMap { CRIUVersion(parsing: "Version: \($0)") }
        if source.online {
            if targetVersion == nil {
                found.append(.init(what: "CRIU", source: sourceCRIU, target: "none", blocking: true, consequence: "run scripts/setup on the target"))
            } else if let targetVersion, targetVersion < CRIUEngine.minimumVersion {
                found.append(.init(what: "CRIU", source: sourceCRIU, target: "\(targetVersion)", blocking: true, consequence: "Ferry needs CRIU \(CRIUEngine.minimumVersion) or newer; run scripts/setup on the target"))
            } else if let targetVersion, let sourceVersion = source.criuVersion, targetVersion < sourceVersion {
                found.append(.init(what: "CRIU", source: "\(sourceVersion)", target: "\(targetVersion)", blocking: true, consequence: "the target's CRIU is older than the one that writes the images; upgrade CRIU on the target"))
            } else if let targetVersion, targetVersion != source.criuVersion {
                found.append(.init(what: "CRIU", source: sourceCRIU, target: "\(targetVersion)", blocking: false))
            }
        }
        if target.kernelRelease != source.kernel.release {
            found.append(.init(what: "kernel", source: source.kernel.release, target: target.kernelRelease, blocking: false))
        }
        if let bridge = source.config.network?.bridge, target.bridges?[bridge] != true {
            found.append(.init(
                what: "network bridge \(bridge)", source: "has it", target: "lacks it", blocking: true,
                consequence: "the container's eth0 joins \(bridge); create that bridge on the target or choose another target"))
        }
        var needs = source.needs
        if case .insulatedImage = targetConfig.storage { needs.insert(.loop) }
        if !source.online { needs.subtract([.cgroupFreezer, .moveMountSetGroup]) }
        for feature in KernelFeatures.Feature.allCases {
            let here = source.kernel[feature]
            let there = target.kernelFeatures[feature.rawValue] ?? false
            let needed = needs.contains(feature)
            guard here != there || (needed && !there) else { continue }
            found.append(.init(
                what: feature.purpose, source: here ? "has it" : "lacks it", target: there ? "has it" : "lacks it",
                blocking: needed && !there, consequence: needed && !there ? "the container needs it on the target" : nil))
        }
        return found
    }
}
