import FerryCRIU
import FerryContainers
import FerryErrors
import FerrySystem
import Testing

@testable import FerryMigration

/// The plan decided from both hosts' facts: transfers, target config, differences.
@Suite struct MigrationPlanTests {
    static func source(
        storage: ContainerConfig.Storage = .shared, online: Bool = true, criu: CRIUVersion? = CRIUVersion(major: 4, minor: 2, patch: 1),
        kernel: KernelFeatures = KernelFeaturesFixture.all(true), needs: Set<KernelFeatures.Feature> = [.openat2, .cgroupFreezer],
        overlay: Bool = false
    ) throws -> SourceFacts {
        let size: UInt64? = if case .insulatedImage(_, let bytes) = storage { bytes } else { nil }
        return SourceFacts(
            config: ContainerConfig(name: try ContainerName("web"), storage: storage, overlayTemplate: overlay ? "/srv/template" : nil),
            online: online, areaBytes: 300 << 20, areaSizeBytes: size, criuVersion: criu, kernel: kernel, needs: needs)
    }

    static let plain = MigrationRequest(targetStorage: nil, targetImageBytes: nil, dumpDevice: nil)

    @Test func sameHostsCopyWithRsyncAndDifferInNothing() throws {
        let plan = MigrationPlan(source: try Self.source(), target: .target(), request: Self.plain)
        #expect(plan.online && plan.steps == MigrationStep.online)
        #expect(plan.data == .rsync && plan.images == .stream)
        #expect(plan.differences.isEmpty, "\(plan.differences)")
        #expect(plan.targetConfig.storage == .shared)
    }

    @Test func aTargetWithoutTheContainersBridgeBlocks() throws {
        var source = try Self.source()
        source.config.network = ContainerNetwork(bridge: "br0", mac: try MACAddress(parsing: "02:00:00:00:00:01"))
        for bridges in [nil, ["br0": false]] as [[String: Bool]?] {
            let plan = MigrationPlan(source: source, target: .target(bridges: bridges), request: Self.plain)
            #expect(plan.refusals.map(\.what) == ["network bridge br0"], "\(plan.differences)")
        }
        let plan = MigrationPlan(source: source, target: .target(bridges: ["br0": true]), request: Self.plain)
        #expect(plan.differences.isEmpty, "\(plan.differences)")
        // Without a network, the bridges are not asked about.
        #expect(MigrationPlan(source: try Self.source(), target: .target(), request: Self.plain).refusals.isEmpty)
    }

    @Test func sharedDeviceMeansNoCopyAndTheTargetsPath() throws {
        let plan = MigrationPlan(
            source: try Self.source(storage: .insulatedDevice(path: "/dev/sdb")), target: .target(sharedDevice: "/dev/sdc"), request: Self.plain)
        #expect(plan.data == .sharedDevice(targetPath: "/dev/sdc"))
        #expect(plan.targetConfig.storage == .insulatedDevice(path: "/dev/sdc"))
    }

    @Test func dumpDeviceCarriesTheImages() throws {
        let device = DumpDevice(uuid: "u-1", directory: "ferry-images/web-7")
        let plan = MigrationPlan(source: try Self.source(), target: .target(), request: .init(targetStorage: nil, targetImageBytes: nil, dumpDevice: device))
        #expect(plan.images == .dumpDevice(device))
        let transport = plan.images.transport(imagesDirectory: "/c/web/migration-images", dumpMountPoint: "/c/web/dump-device")
        #expect(transport.restoreLocation == .init(uuid: "u-1", directory: "ferry-images/web-7"))
    }

    @Test func insulatedTargetGetsAnImageOfTheSourcesSizeOrTheGivenOne() throws {
        let image = ContainerConfig.Storage.insulatedImage(file: "private.img", sizeBytes: 1 << 30)
        let same = MigrationPlan(source: try Self.source(storage: image), target: .target(), request: Self.plain)
        #expect(same.targetConfig.storage == image)
        let fromShared = MigrationPlan(
            source: try Self.source(), target: .target(), request: .init(targetStorage: .insulated, targetImageBytes: nil, dumpDevice: nil))
        #expect(fromShared.targetConfig.storage == .insulatedImage(file: "private.img", sizeBytes: 600 << 20))
        let given = MigrationPlan(
            source: try Self.source(), target: .target(), request: .init(targetStorage: .insulated, targetImageBytes: 2 << 30, dumpDevice: nil))
        #expect(given.targetConfig.storage == .insulatedImage(file: "private.img", sizeBytes: 2 << 30))
        let toShared = MigrationPlan(source: try Self.source(storage: image), target: .target(), request: .init(targetStorage: .shared, targetImageBytes: nil, dumpDevice: nil))
        #expect(toShared.targetConfig.storage == .shared)
    }

    @Test func aMissingFeatureTheContainerNeedsBlocksAndNamesItself() throws {
        var kernel = KernelFeaturesFixture.all(true)
        kernel.overlayfs = false
        let plan = MigrationPlan(
            source: try Self.source(needs: [.openat2, .cgroupFreezer, .overlayfs], overlay: true), target: .target(kernel: kernel), request: Self.plain)
        #expect(plan.refusals.count == 1)
        #expect(plan.refusals.first?.what == "overlayfs")
        #expect(throws: FerryError.self) { try plan.refuseIfBlocked(try ContainerName("web"), target: "h2") }
    }

    @Test func aMissingFeatureNobodyNeedsIsOnlyReported() throws {
        var kernel = KernelFeaturesFixture.all(true, release: "6.1.0")
        kernel.softDirty = false
        let plan = MigrationPlan(source: try Self.source(), target: .target(kernel: kernel), request: Self.plain)
        #expect(plan.refusals.isEmpty)
        #expect(plan.differences.map(\.what).sorted() == ["iterative pre-dump (soft-dirty page tracking)", "kernel"])
        #expect(plan.differences.contains { $0.description == "kernel: source 6.18.0, target 6.1.0" })
    }

    @Test func insulatedTargetStorageNeedsLoopDevicesThere() throws {
        var kernel = KernelFeaturesFixture.all(true)
        kernel.loop = false
        let plan = MigrationPlan(
            source: try Self.source(), target: .target(kernel: kernel), request: .init(targetStorage: .insulated, targetImageBytes: nil, dumpDevice: nil))
        #expect(plan.refusals.map(\.what) == ["insulated storage on a loop image"])
        let shared = MigrationPlan(source: try Self.source(), target: .target(kernel: kernel), request: Self.plain)
        #expect(shared.refusals.isEmpty)
    }

    @Test func criuOnTheTargetMustExistAndBeNoOlder() throws {
        let missing = MigrationPlan(source: try Self.source(), target: .target(criu: nil), request: Self.plain)
        #expect(missing.refusals.map(\.what) == ["CRIU"])
        let older = MigrationPlan(source: try Self.source(), target: .target(criu: "4.1.1"), request: Self.plain)
        #expect(older.refusals.first?.consequence?.contains("older") == true)
        let newer = MigrationPlan(source: try Self.source(), target: .target(criu: "4.3.0"), request: Self.plain)
        #expect(newer.refusals.isEmpty && newer.differences.map(\.what) == ["CRIU"])
        // An offline migration restores nothing: the target's CRIU does not matter.
        let offline = MigrationPlan(source: try Self.source(online: false), target: .target(criu: nil), request: Self.plain)
        #expect(offline.refusals.isEmpty && offline.steps == MigrationStep.offline)
    }

    @Test func theMountEngineDifferenceIsReportedNotBlocking() throws {
        var kernel = KernelFeaturesFixture.all(true)
        kernel.moveMountSetGroup = false
        let plan = MigrationPlan(source: try Self.source(), target: .target(kernel: kernel), request: Self.plain)
        #expect(plan.refusals.isEmpty)
        #expect(plan.differences.map(\.what) == ["CRIU's mount-v2 engine (MOVE_MOUNT_SET_GROUP)"])
    }
}
