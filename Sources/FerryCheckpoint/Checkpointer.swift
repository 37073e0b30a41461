import FerryCRIU
import FerryContainers
import FerryErrors
import FerryMounts
import FerrySystem
import Foundation
import Glibc
import Logging

/// `ferry checkpoint`: freeze a running container, dump it with CRIU, record Ferry's manifest.
public struct Checkpointer {
    public let manager: ContainerManager
    public let engine: CRIUEngine
    public let logger: Logger

    public init(manager: ContainerManager, engine: CRIUEngine, logger: Logger = Logger(label: "ferry.checkpoint")) {
        self.manager = manager
        self.engine = engine
        self.logger = logger
    }

    public struct Result: Sendable, Codable {
        public var directory: String
        public var stats: CRIUStats
        public var mounts: Int
        public var namespaces: Int
        public var totalSeconds: Double
    }

    /// `lockHeld`: the caller (a migration) already holds the container's lock.
    /// `force`: replace a checkpoint there that was never restored (one that served is
    /// replaced anyway).
    /// `fingerprint`: how `verify` will know the images (a migration's cross under rsync's
    /// checksum and need no second pass over the pages).
    /// `swappingShares`: the checkpoint that swaps returned shares in for their
    /// placeholders (see ShareReturn); any other is refused while a placeholder stands in.
    /// `pageServer`: a connected socket to a page server; the memory goes there as CRIU
    /// reads it (fingerprint `.streamedPages`).
    /// `whileFrozen`: Ferry freezes the container itself, once every refusal is past, and
    /// runs this before CRIU starts (a migration starts its frozen-phase sync there, to run
    /// beside the dump). CRIU finds the cgroup frozen and dumps it as it is.
    /// `keepFrozen`: the tasks outlive the dump, frozen (CRIU leaves them as it found them:
    /// Ferry froze them), with the network shut by Ferry's own lock: a migration's source
    /// that resumes with a thaw if the migration fails, and is killed once it commits.
    /// `lazyPages`: a post-copy dump (see `LazyDump`); it needs `keepFrozen`, and returns
    /// only once the memory has been served.
    public func checkpoint(
        _ name: ContainerName, to directory: String?, leaveRunning: Bool, force: Bool = false,
        fingerprint: CheckpointManifest.Fingerprint = .everyFile, lockHeld: Bool = false, swappingShares: Bool = false,
        pageServer: OwnedFileDescriptor? = nil, keepFrozen: Bool = false, lazyPages: LazyDump? = nil,
        whileFrozen: (() throws(FerryError) -> Void)? = nil
    ) throws(FerryError) -> Result {
        if lazyPages != nil, !keepFrozen {
            throw FerryError(.invalidArgument, "a post-copy dump needs the container kept frozen by Ferry")
        }
        let started = Monotonic.now
        let lock = lockHeld ? nil : try OperationLock(root: manager.root, name: name)
        defer { withExtendedLifetime(lock) {} }
        let runtime = try manager.runtime(name)
        let state = try runtime.loadState().requireRunning(name, "there is nothing to checkpoint")
        // Every refusal happens here, before anything is frozen.
        if !swappingShares, let index = runtime.shares.placeholders.keys.min() {
            let share = runtime.config.declaredShares[index]
            throw FerryError(
                .invalidState,
                "share \(share.source) at \(share.target) of container \(name) is away: a placeholder stands in for it, and tasks may be waiting in it; Ferry swaps the share in when its server is back (see 'ferry status \(name)'), checkpoint after that")
        }
        let step: Logger.Metadata = ["container": "\(name)"]
        let plan = try logger.timed("plan", metadata: step) { () throws(FerryError) in try CheckpointPlan(runtime: runtime, state: state) }
        try plan.refuseIfBlocked("checkpoint", name)
        let cgroups = runtime.cgroups.tree()
        let imagesPath = directory ?? runtime.layout.checkpoint
        switch CheckpointUse.state(of: imagesPath) {
        case .unused(let createdAt) where !force:
            throw FerryError(
                .alreadyExists,
                "container \(name) has a checkpoint in \(imagesPath) from \(CheckpointUse.describe(createdAt)) that was never restored; 'ferry restore \(name)' resumes it, or pass --force to replace it")
        case .unused, .used:
            try removeTree(imagesPath)
        case .none:
            break
        }
        try prepareEmptyDirectory(imagesPath)

        let logPath = "\(runtime.layout.directory)/dump.log"
        // Durable before destructive: the record that can bring the container back is on
        // disk before CRIU kills its tasks.
        var manifest = CheckpointManifest(
            format: CheckpointManifest.currentFormat, container: runtime.config, createdAt: Date(), mounts: plan.capture,
            externals: plan.externals, stats: CRIUStats(), checksums: [:], cgroups: cgroups)
        manifest.console = state.console
        if pageServer != nil { manifest.streamedPages = true }
        try manifest.writePending(to: imagesPath)
        // CRIU lifts its network lock after post-dump when the tasks live on; the frozen
        // source must not answer its peers (an ACK for bytes its copy never sees), nor
        // send a reset when it dies.
        let shutsNetwork = keepFrozen && runtime.config.network != nil
        do throws(FerryError) {
            let images = try OwnedFileDescriptor.open(imagesPath, O_RDONLY | O_DIRECTORY)
            let work = try OwnedFileDescriptor.open(runtime.layout.directory, O_RDONLY | O_DIRECTORY)
            var request = CRIUClient.DumpRequest(pid: state.initPid, imagesDirectory: images, workDirectory: work, logPath: logPath)
            request.leaveRunning = leaveRunning || keepFrozen
            request.externals = plan.dumpExternals
            request.freezeCgroup = state.cgroup
            request.pageServer = pageServer
            request.lazyPages = lazyPages?.server
            if whileFrozen != nil || keepFrozen {
                try runtime.cgroup.freeze()
                try whileFrozen?()
            }
            try logger.timed("criu dump", metadata: step) { () throws(FerryError) in
                // post-dump: CRIU has written everything and holds the tasks frozen until
                // answered — the moment a fault "while CRIU dumps" strikes in the tests.
                try CRIUClient(engine: engine).dump(request) { (notification) throws(FerryError) in
                    if notification.script == "status-ready" { lazyPages?.serving() }
                    guard notification.script == "post-dump" else { return }
                    if shutsNetwork { try NetworkLock.engage(initPid: state.initPid) }
                    if lazyPages != nil {
                        // CRIU thawed the cgroup once it had seized the tasks: they stop
                        // under ptrace only. Frozen again, they stay stopped whatever
                        // becomes of CRIU (killed with a killed ferry, ptrace lets go)
                        // while a copy may run on the target.
                        try runtime.cgroup.freeze()
                        // Every image but the lazy memory is written: the record is complete
                        // now, for the target that restores before this dump returns.
                        try manifest.fingerprint(imagesPath, fingerprint)
                        try manifest.write(to: imagesPath)
                    }
                    try FailurePoint.check("criu-post-dump")
                }
            }
        } catch {
            try? FileManager.default.removeItem(atPath: imagesPath)
            // A CRIU that failed or was killed mid-dump may leave the tasks frozen. Not
            // after a post-copy began: a copy may run on the target, and only the
            // migration may say when this one runs again.
            if state.initAlive, lazyPages == nil {
                if shutsNetwork { try? NetworkLock.release(initPid: state.initPid) }
                try? runtime.cgroup.thaw()
                throw FerryError(error.code, "\(error.message); the container runs on", cause: error.cause)
            }
            throw error
        }

        try FailurePoint.check("dump-written")
        var stats = CRIUStats()
        if let bytes = try? OwnedFileDescriptor.open("\(runtime.layout.directory)/stats-dump", O_RDONLY).readAll() {
            try? stats.merge(image: bytes)
        }
        manifest.stats = stats
        try manifest.fingerprint(imagesPath, fingerprint)
        try logger.timed("manifest", metadata: step) { () throws(FerryError) in try manifest.write(to: imagesPath) }
        if !leaveRunning && !keepFrozen {
            // CRIU killed the tree; the monitor tears the host side down. Wait for it.
            if state.monitorAlive, let monitor = try? ProcessHandle(pid: state.monitorPid) {
                _ = monitor.waitForExit(seconds: 30)
            }
            if runtime.hasRunState { try runtime.teardown() }
            // CRIU's kill is no exit of the init's own.
            ExitRecord.remove(runtime.layout)
        }
        // After the monitor has written the init's last output (a migration's target has
        // no log of its own to append to).
        do throws(FerryError) {
            try runtime.layout.consoleLog.carry(into: imagesPath)
        } catch {
            logger.warning("the init's output stays behind", metadata: ["container": "\(name)", "error": "\(error.message)"])
        }
        logger.info("checkpoint written", metadata: ["container": "\(name)", "directory": "\(imagesPath)"])
        return Result(
            directory: imagesPath, stats: stats, mounts: plan.capture.mountCount, namespaces: plan.capture.namespaces.count,
            totalSeconds: Monotonic.now - started)
    }

    /// The image directory must be new or empty: an old checkpoint is never overwritten.
    private func prepareEmptyDirectory(_ path: String) throws(FerryError) {
        if let entries = try? directoryEntries(path) {
            guard entries.isEmpty else {
                throw FerryError(.alreadyExists, "image directory \(path) is not empty; remove it or choose another with --to")
            }
            return
        }
        try makeDirectories(path)
    }
}
/// A post-copy dump: CRIU writes every image but the memory, then serves the memory from
/// the frozen tasks on `server` until the target's lazy-pages daemon has it all.
public struct LazyDump: Sendable {
    public var server: LazyPagesServer
    /// Called once CRIU listens for the daemon (its images are complete by then).
    public var serving: @Sendable () -> Void

    public init(server: LazyPagesServer, serving: @escaping @Sendable () -> Void) {
        self.server = server
        self.serving = serving
    }
}
