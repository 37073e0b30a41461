import FerryCRIU
import FerryContainers
import FerryErrors
import FerryMounts
import FerrySystem
import Foundation
import Glibc
import Logging

/// `ferry restore`: bring a checkpointed container back, possibly under other host paths,
/// and prove that its mount tree is the one that was checkpointed.
public struct Restorer {
    public let manager: ContainerManager
    public let engine: CRIUEngine
    public let logger: Logger

    public init(manager: ContainerManager, engine: CRIUEngine, logger: Logger = Logger(label: "ferry.checkpoint")) {
        self.manager = manager
        self.engine = engine
        self.logger = logger
    }

    /// Host paths that moved since the checkpoint.
    public struct Remap: Sendable {
        /// Container path of a bind → its source on this host.
        public var bindSources: [String: String] = [:]
        public var overlayTemplate: String?
        public init(bindSources: [String: String] = [:], overlayTemplate: String? = nil) {
            self.bindSources = bindSources
            self.overlayTemplate = overlayTemplate
        }
    }

    public struct Result: Sendable, Codable {
        public var pid: Int32
        public var stats: CRIUStats
        public var mounts: Int
        public var namespaces: Int
        public var totalSeconds: Double
    }

    /// `lockHeld`: the caller (a migration) already holds the container's lock.
    /// `force`: restore images that already served (see CheckpointUse).
    /// `lazyPages`: a post-copy's images, whose memory a running `criu lazy-pages` daemon
    /// serves (see LazyPagesDaemon).
    public func restore(
        _ name: ContainerName, from directory: String?, remap: Remap, force: Bool = false, lockHeld: Bool = false, lazyPages: Bool = false
    ) throws(FerryError) -> Result {
        let started = Monotonic.now
        let lock = lockHeld ? nil : try OperationLock(root: manager.root, name: name)
        defer { withExtendedLifetime(lock) {} }
        var runtime = try manager.runtime(name)
        let crashed: Bool
        switch runtime.loadState() {
        case .running: throw FerryError(.invalidState, "container \(name) is already running; stop it before restoring")
        case .unreadable(let error): throw error
        case .crashed: crashed = true
        case .stopped: crashed = false
        }
        let imagesPath = directory ?? runtime.layout.checkpoint
        let step: Logger.Metadata = ["container": "\(name)"]
        if case .used(let use, let createdAt) = CheckpointUse.state(of: imagesPath), !force {
            throw FerryError(
                .invalidState,
                "the checkpoint of \(name) in \(imagesPath) (from \(CheckpointUse.describe(createdAt))) already served a \(use.by) at \(CheckpointUse.describe(use.at)); restoring it again rolls the container's memory back while its files stay as they are now; pass --force if that is what you want, or take a new checkpoint")
        }
        // A checkpoint whose ferry died between CRIU's dump and the record is finished here.
        _ = CheckpointManifest.completeInterrupted(directory: imagesPath, workDirectory: runtime.layout.directory)
        // A migration's dump whose pages went out on the image stream: rebuilt from the spool.
        try logger.timed("rebuild pages", metadata: step) { () throws(FerryError) in
            try PageSpool.rebuildPagesIfNeeded(directory: imagesPath, workDirectory: runtime.layout.directory, engine: engine)
        }
        let manifest = try logger.timed("verify images", metadata: step) { () throws(FerryError) in
            let manifest = try CheckpointManifest.read(from: imagesPath, expecting: name)
            try manifest.verify(directory: imagesPath)
            return manifest
        }
        if crashed { try runtime.teardown() }
        runtime = try apply(remap, to: runtime)
        var plan = try RestorePlan(manifest: manifest, imagesDirectory: imagesPath, config: runtime.config, layout: runtime.layout)
        if lazyPages { plan.lazyPages = true }
        try plan.write(for: runtime.layout)
        // On a migration's target the output so far comes with the images.
        try runtime.layout.consoleLog.adopt(from: imagesPath)
        let launched = Swift.Result { () throws(FerryError) in
            try logger.timed("criu restore", metadata: step) { () throws(FerryError) in
                try manager.launchMonitor(runtime, arguments: ["--restore-from", imagesPath])
            }
        }
        RestorePlan.remove(for: runtime.layout)
        let pid = try launched.get()
        // The restored init, as its monitor just recorded it.
        let restored = try runtime.loadState().requireRunning(name, "it exited right after its restore")
        let actual = try logger.timed("mount tree check", metadata: step) { () throws(FerryError) in
            try MountCapturer(runtime: runtime, state: restored).capture()
        }
        let differences = MountTreeDiff.lines(expected: plan.expectedMounts, actual: actual)
        if !differences.isEmpty {
            try? manager.stop(name, timeout: 0, locked: true)
            throw FerryError(
                .mountTreeMismatch,
                "restored container \(name) has a different mount tree, so it was stopped again (images untouched):\n  "
                    + differences.joined(separator: "\n  "))
        }
        // The images have served: a second restore needs --force.
        do throws(FerryError) {
            try CheckpointUse.mark(imagesPath, by: "restore")
        } catch {
            logger.warning("could not mark the checkpoint used", metadata: ["container": "\(name)", "error": "\(error.message)"])
        }
        // A migrated copy is announced at its commit, when its network opens.
        if let network = runtime.config.network, MigrationLease.read(runtime.layout)?.state != .pending {
            do throws(FerryError) {
                try NetworkAttachment(network: network, container: name).announce(initPid: restored.initPid)
            } catch {
                logger.warning("could not announce the container's addresses", metadata: ["container": "\(name)", "error": "\(error.message)"])
            }
        }
        var stats = manifest.stats
        if let bytes = try? OwnedFileDescriptor.open("\(runtime.layout.directory)/stats-restore", O_RDONLY).readAll() {
            try? stats.merge(image: bytes)
        }
        return Result(
            pid: pid, stats: stats, mounts: actual.mountCount, namespaces: actual.namespaces.count,
            totalSeconds: Monotonic.now - started)
    }

    /// Records moved bind sources and template in the container's config.
    private func apply(_ remap: Remap, to runtime: ContainerRuntime) throws(FerryError) -> ContainerRuntime {
        let config = try remap.applied(to: runtime.config)
        guard config != runtime.config else { return runtime }
        try manager.saveConfig(config)
        return try manager.runtime(config.name)
    }
}

extension Restorer.Remap {
    /// The config with the moved bind sources and template in it.
    func applied(to original: ContainerConfig) throws(FerryError) -> ContainerConfig {
        var config = original
        for (destination, source) in bindSources {
            guard let index = config.binds.firstIndex(where: { $0.destination == destination }) else {
                throw FerryError(.invalidArgument, "container \(config.name) has no bind mount at \(destination)")
            }
            config.binds[index].source = source
        }
        if let template = overlayTemplate {
            guard config.overlayTemplate != nil else {
                throw FerryError(.invalidArgument, "container \(config.name) has no overlay root; --overlay-template does not apply")
            }
            config.overlayTemplate = template
        }
        return config
    }
}

/// The monitor's launcher for a restore: create the mount points, run CRIU, return the init.
public struct RestoreLauncher: ContainerLauncher {
    public let imagesPath: String
    public let engine: CRIUEngine

    public init(imagesPath: String, engine: CRIUEngine) {
        self.imagesPath = imagesPath
        self.engine = engine
    }

    public var recreatesTasks: Bool { true }

    /// Every share of a restored container can be stood in for: the images say which of
    /// its files the processes hold (none is still a placeholder worth mounting).
    public func placeholderInventory(for share: Int, of runtime: ContainerRuntime) -> ShareInventory? {
        guard let inventories = (try? RestorePlan.read(for: runtime.layout))?.shareInventories else { return nil }
        return inventories[share] ?? ShareInventory()
    }

    public func launch(_ runtime: ContainerRuntime, console: ConsolePipes) throws(FerryError) -> pid_t {
        let plan = try RestorePlan.read(for: runtime.layout)
        guard plan.imagesDirectory == imagesPath else {
            throw FerryError(.invalidState, "restore plan of container \(runtime.config.name) is for \(plan.imagesDirectory), not \(imagesPath)")
        }
        try plan.createDestinations(in: runtime.rootfs)
        if let devices = runtime.userNamespaceDevices { try plan.createDeviceDestinations(in: devices.path) }
        try runtime.cgroups.createTree(plan.cgroups)
        try runtime.delegateCgroups()
        let images = try OwnedFileDescriptor.open(imagesPath, O_RDONLY | O_DIRECTORY)
        let work = try OwnedFileDescriptor.open(runtime.layout.directory, O_RDONLY | O_DIRECTORY)
        var request = CRIUClient.RestoreRequest(
            imagesDirectory: images, workDirectory: work, logPath: "\(runtime.layout.directory)/restore.log", root: runtime.rootfs)
        request.externals = plan.externals
        request.lazyPages = plan.lazyPages == true
        if let network = runtime.config.network {
            // The dumped eth0's peer comes back as the host end, on this host's bridge.
            let attachment = NetworkAttachment(network: network, container: runtime.config.name)
            try NetworkAttachment.requireBridge(network.bridge)
            attachment.removeHostEnd()
            request.externals.append(attachment.restoreExternal)
        }
        request.cgroupRoot = "/" + runtime.cgroups.relativePath
        if let keys = plan.console {
            request.inherited = [(keys.output, console.output.write), (keys.input, console.input.read)]
        }
        let cgroups = runtime.cgroups
        let shares = runtime.shares
        // A migrated copy's network stays shut until the commit (see NetworkLock).
        let locksNetwork = runtime.config.network != nil && MigrationLease.read(runtime.layout)?.state == .pending
        var rootPid: pid_t = 0
        return try CRIUClient(engine: engine).restore(
            request, started: { pid throws(FerryError) in try cgroups.add(pid) },
            notify: { (notification) throws(FerryError) in
                if notification.script == "setup-namespaces" { rootPid = notification.pid }
                // The files are open: a placeholder stops answering for them before the
                // tasks run (their own questions wait for the share).
                if notification.script == "pre-resume" { shares.restoreFinished() }
                if notification.script == "network-unlock", locksNetwork {
                    guard rootPid > 0 else { throw FerryError(.invalidState, "CRIU unlocks the network before naming the restored init") }
                    try NetworkLock.engage(initPid: rootPid)
                }
            })
    }
}
