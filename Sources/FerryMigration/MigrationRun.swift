import FerryCRIU
import FerryCheckpoint
import FerryContainers
import FerryErrors
import FerrySystem
import Foundation
import Glibc
import Logging

/// One migration in progress: what it learnt, its channel, its plan, and the table of what
/// each step does and how it is undone.
struct MigrationRun {
    let manager: ContainerManager
    let engine: CRIUEngine
    let runtime: ContainerRuntime
    let options: Migrator.Options
    let online: Bool
    /// The journal as it was when the run began: where the images are, the dump device.
    let journal: MigrationJournal
    let needs: Set<KernelFeatures.Feature>
    let logger: Logger
    var channel: (any AgentCalling)?
    var plan: MigrationPlan?
    var prepared: AgentResponse.Prepared?
    var dataBytes: UInt64 = 0
    var imageBytes: UInt64 = 0
    var frozenStart: Double?
    /// The frozen-phase sync of the private area, started beside the dump.
    var finalSync: BackgroundTask<UInt64>?
    /// Where the frozen-phase sync reads the private area (online, when it is copied).
    var syncSource: SyncSource?
    /// The frozen-phase sync's rsync, started after the live pre-sync, waiting for its list.
    var pendingPush: Rsync.PendingPush?
    /// What changes in the private area from before the live pre-sync until the freeze;
    /// nil when there is no sync source or its filesystem cannot be tracked.
    var tracker: ChangeTracker?
    /// How CRIU's images travel: the journal's choice, so a recovery finds them too.
    let imageTransport: any ImageTransport
    /// Set when an undo found the target unreachable and waited out its lease instead.
    var outwaitedLease = false
    var frozenSeconds: Double?
    /// Post-copy: CRIU's lazy dump and its relay, from the freeze to the last page.
    var lazyDump: LazyDumpSession?
    /// Post-copy: fs.pipe-max-size, raised while the lazy dump serves pages.
    var pipeLimit: PipeSizeLimit?

    var name: ContainerName { runtime.config.name }
    var root: StateRoot { manager.root }

    init(
        manager: ContainerManager, engine: CRIUEngine, runtime: ContainerRuntime, options: Migrator.Options, online: Bool,
        journal: MigrationJournal, needs: Set<KernelFeatures.Feature>, logger: Logger
    ) {
        self.manager = manager
        self.engine = engine
        self.runtime = runtime
        self.options = options
        self.online = online
        self.journal = journal
        self.needs = needs
        self.logger = logger
        imageTransport = MigrationPlan.ImagePath(journal.dumpDevice).transport(
            imagesDirectory: journal.imagesDirectory, dumpMountPoint: "\(runtime.layout.directory)/dump-device")
        (imageTransport as? StreamImageTransport)?.postcopy = options.postcopy
    }

    typealias Row = StepRow<MigrationRun>

    /// What the source adds to the lease before it takes the target's copy as fenced: the
    /// request's time on the wire, and the monitor's one-second check.
    static let leaseMargin = 10.0

    /// The steps a dry run takes: talk to the target and plan, change nothing.
    static var probeRows: [Row] { [connect, checkTarget] }

    /// The table: every step of a migration, in order, with its undo.
    static func rows(online: Bool, postcopy: Bool = false) -> [Row] {
        let all: [MigrationStep: Row] = [
            .connect: connect, .checkTarget: checkTarget,
            .prepareTarget: Row(step: .prepareTarget, undo: { _ in .abortTarget }) { (run) throws(FerryError) in
                run.prepared = try run.agent().call(.prepare(try .init(config: try run.planned().targetConfig))).prepared
            },
            // A stopped insulated container's filesystem is mounted only for the copy.
            .mountSource: Row(step: .mountSource, undo: { run in run.mountsSource ? .unmountSourcePrivateArea : nil }) { (run) throws(FerryError) in
                if run.mountsSource { try run.runtime.privateArea.mountPrivate() }
            },
            .presync: Row(step: .presync, undo: { _ in nil }) { (run) throws(FerryError) in
                // Tracked from before the walk, so no change between the walk and the
                // freeze goes unseen: the frozen sync then sends only what changed.
                if run.online, try run.planned().data == .rsync {
                    let source = try SyncSource(area: run.runtime.layout.privateArea, insulated: run.runtime.config.storage.isInsulated)
                    run.syncSource = source
                    run.tracker = ChangeTracker.start(source, logger: run.logger)
                }
                // Live: files may vanish under a running container; the frozen sync is exact.
                try run.syncPrivateArea(exact: !run.online)
                // Started now, so that ssh and rsync are up by the freeze: the frozen phase
                // then pays only for the list of what changed.
                if let source = run.syncSource {
                    run.pendingPush = try Rsync.startChanged(
                        source.path, to: try run.staged().privateArea, target: run.options.target, progress: run.transferProgress(.files))
                }
            },
            .checkpoint: Row(step: .checkpoint, undo: { _ in .restoreSource }) { (run) throws(FerryError) in
                if run.options.postcopy { return try run.checkpointLazily() }
                let checkpointer = Checkpointer(manager: run.manager, engine: run.engine)
                let name = run.name
                run.removeLocalImages()
                let transport = run.imageTransport
                // The source's tasks outlive the dump, frozen: a rollback is a thaw, and no
                // page is kept here for it. Unless they hold what the target's copy must take
                // over: the same block device (shared storage), or a network share's
                // server-side state (NFS locks, which the restore takes again).
                let dataPath = try run.planned().data
                let keepFrozen = transport.sendsPagesAway && dataPath == .rsync && run.runtime.config.declaredShares.isEmpty
                // Before the freeze: the connection the pages will take.
                let pages = try transport.openPages(try run.agent(), container: name, spool: !keepFrozen, progress: run.transferProgress(.images))
                let started = StartedSync()
                let sync = try run.finalSyncJob()
                // The job owns the area's copy now: it goes with the job, before any undo
                // mounts the area again.
                (run.syncSource, run.tracker, run.pendingPush) = (nil, nil, nil)
                let events = run.options.events
                do throws(FerryError) {
                    _ = try transport.withSourceImages { (images) throws(FerryError) in
                        try checkpointer.checkpoint(
                            name, to: images, leaveRunning: false, fingerprint: transport.fingerprint, lockHeld: true, pageServer: pages,
                            keepFrozen: keepFrozen, whileFrozen: { () throws(FerryError) in
                                // Frozen from here: the sync of what changed runs beside the dump.
                                started.frozenAt = Monotonic.now
                                events?(.frozenStarted)
                                started.task = sync.map { job in BackgroundTask("ferry final sync") { () throws(FerryError) in try job() } }
                            })
                    }
                    run.frozenStart = started.frozenAt
                } catch {
                    run.frozenStart = started.frozenAt
                    transport.cancel()
                    // The sync must not write into a staging an undo is about to remove.
                    _ = started.task?.wait(within: ImageStream.idleSeconds)
                    throw error
                }
                run.finalSync = started.task
            },
            .finalSync: Row(step: .finalSync, undo: { _ in nil }) { (run) throws(FerryError) in
                try run.checkDowntime(before: .finalSync)
                if let running = run.finalSync {
                    run.finalSync = nil
                    run.dataBytes += try running.value(within: run.downtimeLeft ?? ImageStream.idleSeconds, what: "the frozen-phase sync")
                } else {
                    try run.syncPrivateArea(exact: true)
                }
            },
            .sendImages: Row(step: .sendImages, undo: { _ in nil }) { (run) throws(FerryError) in
                try run.checkDowntime(before: .sendImages)
                run.imageBytes += try run.imageTransport.deliver(to: try run.staged(), target: run.options.target)
                if let session = run.lazyDump, let stream = run.imageTransport as? StreamImageTransport {
                    // The stream carries the memory from now on, as the target's copy asks.
                    try stream.relayPostcopy(session, idleSeconds: run.options.lease)
                }
            },
            // Undo in reverse order: the target's copy must stop before the source restarts
            // (with shared storage it holds the device).
            .restoreTarget: Row(
                step: .restoreTarget, undo: { run in .abortTargetOrOutwaitLease(until: Date().addingTimeInterval(run.options.lease + Self.leaseMargin)) }
            ) { (run) throws(FerryError) in
                try run.checkDowntime(before: .restoreTarget)
                _ = try run.agent().call(.restore(.init(
                    container: run.name.value, keepImages: run.options.keepImages, dumpDevice: run.imageTransport.restoreLocation,
                    lease: run.options.lease, postcopy: run.options.postcopy ? true : nil)), within: run.downtimeLeft)
                // Post-copy: the target's copy runs now, its memory on the way.
                if run.options.postcopy, let frozenStart = run.frozenStart {
                    let frozen = Monotonic.now - frozenStart
                    run.frozenSeconds = frozen
                    run.options.events?(.frozenEnded(seconds: frozen))
                }
            },
            // Nothing to undo of its own: restore-target's undo kills the target's copy.
            .awaitPages: Row(step: .awaitPages, undo: { _ in nil }) { (run) throws(FerryError) in
                try run.awaitPages()
            },
            .registerTarget: Row(step: .registerTarget, undo: { _ in .abortTarget }) { (run) throws(FerryError) in
                if run.runtime.config.storage.isInsulated { try run.runtime.privateArea.unmountPrivate() }
                _ = try run.agent().call(.register(container: run.name.value))
            },
            .finishSource: Row(step: .finishSource, undo: { _ in nil }, commits: true) { (run) throws(FerryError) in
                try run.finishSource()
            },
        ]
        return (online ? postcopy ? MigrationStep.postcopy : MigrationStep.online : MigrationStep.offline).map { step in
            guard let row = all[step] else { preconditionFailure("migration step \(step.rawValue) has no row in the table") }
            return row
        }
    }

    private static var connect: Row {
        Row(step: .connect, undo: { _ in nil }) { (run) throws(FerryError) in
            run.channel = try AgentChannel(target: run.options.target, remoteFerry: run.options.remoteFerry, logger: run.agentLogger)
            run.settleForgotten()
        }
    }

    /// At the next contact with a target an admin forgot, it removes what that migration
    /// left there (an abort); a copy it owns (a commit that did reach it) stays, reported:
    /// only the admin can say which of two diverged copies to keep.
    mutating func settleForgotten() {
        let destination = options.target.destination
        for forgotten in ForgottenTarget.all(root, on: destination) {
            let metadata: Logger.Metadata = ["container": "\(forgotten.container)", "target": "\(destination)"]
            do throws(FerryError) {
                if try agent().call(.status(container: forgotten.container)).held == .owned {
                    logger.warning(
                        "the target runs its own copy of a container whose migration was forgotten here; keep one copy and destroy the other",
                        metadata: metadata)
                    continue
                }
                _ = try agent().call(.abort(container: forgotten.container))
                forgotten.remove(root)
                logger.notice("removed what a forgotten migration had left on the target", metadata: metadata)
            } catch {
                logger.warning("could not yet clean what a forgotten migration left", metadata: metadata.merging(["error": "\(error.message)"]) { $1 })
            }
        }
    }

    /// Learns both sides' facts and builds the plan; refuses on any blocking difference.
    private static var checkTarget: Row {
        Row(step: .checkTarget, undo: { _ in nil }) { (run) throws(FerryError) in
            // A device-backed area is probed for shared storage (mounted briefly if stopped).
            let probed = try run.mountForProbe()
            defer { run.releaseProbe(mountedHere: probed) }
            let probe = try run.sharedStorageProbe()
            let source = try run.sourceFacts()
            let reply = try run.agent().call(.hello(.init(
                container: run.name.value, neededBytes: source.areaBytes,
                imageBytes: run.online && run.journal.dumpDevice == nil ? run.memoryBytes() : 0, sharedStorage: probe.map { .init($0) },
                bridges: source.config.network.map { [$0.bridge] } ?? [])))
            guard let hello = reply.hello else { throw FerryError(.corrupt, "target \(run.options.target.destination) sent no hello") }
            if hello.nameTaken {
                throw FerryError(.alreadyExists, "container \(run.name) already exists on \(run.options.target.destination)")
            }
            let plan = MigrationPlan(
                source: source, target: hello,
                request: .init(targetStorage: run.options.targetStorage, targetImageBytes: run.options.targetImageBytes, dumpDevice: run.journal.dumpDevice))
            for difference in plan.differences {
                run.logger.notice("hosts differ", metadata: ["difference": "\(difference)"])
            }
            try plan.refuseIfBlocked(run.name, target: run.options.target.destination)
            if run.options.postcopy, case .sharedDevice = plan.data {
                throw FerryError(
                    .invalidArgument,
                    "--postcopy cannot move \(run.name): both hosts see its block device, and the source's frozen tasks keep it mounted while the target's copy runs; migrate it without --postcopy")
            }
            if run.options.postcopy, let share = run.runtime.config.declaredShares.first {
                throw FerryError(
                    .invalidArgument,
                    "--postcopy cannot move \(run.name): its share \(share.source) keeps server-side state (locks) for the source's frozen tasks while the target's copy would take it again; migrate it without --postcopy")
            }
            run.plan = plan
        }
    }

    /// The point of no return: the target keeps the container, the source lets it go.
    mutating func finishSource() throws(FerryError) {
        _ = try agent().call(.commit(container: name.value))
        // Downtime ends here: the commit thawed the target's copy (a post-copy's ran already).
        if frozenSeconds == nil {
            frozenSeconds = frozenStart.map { Monotonic.now - $0 }
            if let frozenSeconds { options.events?(.frozenEnded(seconds: frozenSeconds)) }
        }
        // A source kept frozen for a rollback dies now, behind its network lock.
        if case .running = try manager.runtime(name).loadState() {
            _ = try manager.stop(name, timeout: 0, locked: true)
        }
        restorePipeLimit()
        if runtime.config.storage.isInsulated { try? runtime.privateArea.unmountPrivate() }
        if !options.keepImages { removeLocalImages() }
        MigrationJournal.remove(root: root, name: name)
        if !options.keepSource {
            try manager.destroy(name, locked: true)
        }
    }

    /// What the target holds of the container now (a fresh connection if need be).
    mutating func targetHolds() throws(FerryError) -> AgentResponse.Held {
        guard let held = try agent().call(.status(container: name.value)).held else {
            throw FerryError(.corrupt, "target \(options.target.destination) did not say what it holds of \(name)")
        }
        return held
    }

    /// Runs the journal's undos backwards; returns what could not be undone. With none
    /// left, the images and the journal go.
    mutating func rollBack(_ executor: inout MigrationExecutor, forgettingTarget: Bool = false) -> [String] {
        // An interruption sent the agent's ssh SIGTERM, and it may not have died yet: drop
        // it (its deinit waits for it, and its control socket goes with it), so that the
        // undos talk to the target over a fresh connection.
        if Interruption.signal != nil { channel = nil }
        // A post-copy that failed: CRIU lets go of the (still frozen) tasks before any undo.
        lazyDump?.end(within: CRIUClient.defaultWatchdogSeconds)
        lazyDump = nil
        restorePipeLimit()
        // The frozen-phase sync's rsync and the area's copy end before any undo touches
        // the target's staging or mounts the area again.
        (syncSource, tracker, pendingPush) = (nil, nil, nil)
        let problems = executor.rollBack { (action) throws(FerryError) in
            if forgettingTarget, let end = Self.targetFacing(action) {
                try outwaitLease(until: end)
            } else {
                try undo(action)
            }
        }
        if problems.isEmpty {
            removeLocalImages()
            MigrationJournal.remove(root: root, name: name)
        }
        return problems
    }

    /// For an undo that needs the target: until when its copy may live (distantPast for a
    /// staging without a restored copy); nil for the source's own undos.
    static func targetFacing(_ action: MigrationJournal.UndoAction) -> Date? {
        switch action {
        case .abortTarget: .distantPast
        case .abortTargetOrOutwaitLease(let until): until
        case .restoreSource, .unmountSourcePrivateArea: nil
        }
    }

    /// Waits until a target's lease has surely ended: then its monitor has fenced any copy
    /// that had no commit, and the source may resume its own.
    mutating func outwaitLease(until: Date) throws(FerryError) {
        let wait = until.timeIntervalSinceNow
        // More than a lease ahead means this host's clock jumped: do not guess.
        guard wait <= options.lease + Self.leaseMargin else {
            throw FerryError(
                .invalidState,
                "the target's lease ends \(Int(wait)) s from now, longer than any lease: this host's clock moved; run 'ferry recover \(name)' again later")
        }
        if wait > 0 {
            logger.warning("waiting for the target's lease to end before resuming here", metadata: ["seconds": "\(Int(wait.rounded(.up)))"])
            Thread.sleep(until: until)
        }
        outwaitedLease = true
    }

    /// What takes one step back.
    private mutating func undo(_ action: MigrationJournal.UndoAction) throws(FerryError) {
        switch action {
        case .abortTarget:
            _ = try agent().call(.abort(container: name.value))
        case .abortTargetOrOutwaitLease(let until):
            do throws(FerryError) {
                _ = try agent().call(.abort(container: name.value))
            } catch {
                logger.warning("the target did not confirm the abort", metadata: ["error": "\(error.message)"])
                guard until.timeIntervalSinceNow <= options.lease + Self.leaseMargin else { throw error }
                try outwaitLease(until: until)
            }
        case .restoreSource:
            // As the failed step left it: a source that still runs needs no restore.
            let current = try manager.runtime(name)
            switch current.loadState() {
            case .running(let state):
                // Kept frozen by the dump (or left so by a CRIU that died with a killed
                // ferry): the network opens first, as at a commit, then the tasks run on.
                if current.config.network != nil { try NetworkLock.open(initPid: state.initPid, tasks: current.cgroup.pids) }
                if current.cgroup.isFreezeRequested { try current.cgroup.thaw() }
                return
            case .unreadable(let error): throw error
            case .stopped, .crashed: break
            }
            let restorer = Restorer(manager: manager, engine: engine)
            let name = name
            let workDirectory = runtime.layout.directory
            try imageTransport.withSourceImages { (images) throws(FerryError) in
                // A dump CRIU finished while Ferry died before its record: finish the record.
                let complete = CheckpointManifest.completeInterrupted(directory: images, workDirectory: workDirectory)
                guard complete else {
                    if access(images, F_OK) == 0 {
                        throw FerryError(
                            .corrupt,
                            "container \(name) runs nowhere: its dump in \(images) is incomplete (see \(workDirectory)/dump.log); the images are kept")
                    }
                    return  // never dumped: nothing to undo
                }
                _ = try restorer.restore(name, from: images, remap: .init(), lockHeld: true)
                // Restored: the images have served (kept if the restore failed, for a retry).
                try? FileManager.default.removeItem(atPath: images)
            }
        case .unmountSourcePrivateArea:
            try runtime.privateArea.unmountPrivate()
        }
    }

    func summary(phases: [MigrationSummary.Phase], totalSeconds: Double) -> MigrationSummary {
        MigrationSummary(
            container: name.value, target: options.target.destination, mode: online ? "online" : "offline",
            frozenSeconds: frozenSeconds, totalSeconds: totalSeconds, dataBytes: Int(clamping: dataBytes),
            imageBytes: Int(clamping: imageBytes),
            phases: phases.map { phase in
                var phase = phase
                // A post-copy's frozen window ends with the restore (its copy runs from then on).
                let afterWindow = options.postcopy && phase.step == MigrationStep.finishSource.rawValue
                phase.frozen = online && !options.dryRun && !afterWindow && (MigrationStep(rawValue: phase.step)?.runsFrozen ?? false)
                return phase
            },
            dryRun: options.dryRun,
            differences: plan?.differences.map(\.description) ?? [])
    }

    // MARK: Helpers of the rows

    /// Post-copy's checkpoint: CRIU writes every image but the memory while the container
    /// is frozen, then serves the memory from the frozen tasks (see LazyDumpSession); this
    /// returns once it serves.
    private mutating func checkpointLazily() throws(FerryError) {
        guard let stream = imageTransport as? StreamImageTransport else {
            throw FerryError(.invalidState, "a post-copy needs the image stream, not \(imageTransport.name)")
        }
        removeLocalImages()
        _ = try stream.openPages(try agent(), container: name, spool: false, progress: nil)
        pipeLimit = try PipeSizeLimit(record: pipeLimitRecord)
        let session = try LazyDumpSession(configFile: "\(runtime.layout.directory)/lazy-dump.conf")
        lazyDump = session
        let sync = try finalSyncJob()
        // The job owns the area's copy now, as in the checkpoint row.
        (syncSource, tracker, pendingPush) = (nil, nil, nil)
        do throws(FerryError) {
            try session.start(
                Checkpointer(manager: manager, engine: engine), name: name, images: journal.imagesDirectory, sync: sync,
                events: options.events, within: CRIUClient.defaultWatchdogSeconds)
        } catch {
            frozenStart = session.frozenAt
            stream.cancel()
            session.end(within: CRIUClient.defaultWatchdogSeconds)
            // The sync must not write into a staging an undo is about to remove.
            _ = session.finalSync?.wait(within: ImageStream.idleSeconds)
            throw error
        }
        frozenStart = session.frozenAt
        finalSync = session.finalSync
    }

    /// Post-copy: the target's verdict (its lazy-pages daemon's exit) decides. A failure
    /// there has killed the target's copy already; the undo confirms it before the source
    /// thaws. The source's tasks stay frozen either way until the commit or that undo.
    private mutating func awaitPages() throws(FerryError) {
        _ = try agent().call(.awaitPages(container: name.value), within: options.lease + Self.leaseMargin)
        // Every page is in: the lazy dump ends on its own now.
        do throws(FerryError) {
            try lazyDump?.finish(within: ImageStream.idleSeconds)
        } catch {
            logger.notice("the source's lazy dump ended uncleanly after the last page", metadata: ["error": "\(error.message)"])
        }
        lazyDump = nil
        restorePipeLimit()
    }

    /// Where a raised fs.pipe-max-size's old value waits to be put back.
    private var pipeLimitRecord: String { "\(root.migrationsDirectory)/\(name.value).pipe-max-size" }

    /// Puts fs.pipe-max-size back if a post-copy raised it: this run, or a killed one
    /// whose recovery this is.
    mutating func restorePipeLimit() {
        let limit = pipeLimit
        pipeLimit = nil
        do throws(FerryError) {
            if let limit { try limit.restore() } else { try PipeSizeLimit.restoreRecorded(pipeLimitRecord) }
        } catch {
            logger.warning("could not put fs.pipe-max-size back", metadata: ["record": "\(pipeLimitRecord)", "error": "\(error.message)"])
        }
    }

    /// What is left of `--max-downtime` since the freeze (nil before it).
    var downtimeLeft: Double? {
        frozenStart.map { max(0.001, options.maxDowntime - (Monotonic.now - $0)) }
    }

    /// Refuses to go on once the container has been frozen longer than allowed.
    func checkDowntime(before step: MigrationStep) throws(FerryError) {
        guard let frozenStart else { return }
        let frozen = Monotonic.now - frozenStart
        guard frozen <= options.maxDowntime else {
            throw FerryError(
                .timedOut,
                String(format: "the container has been frozen %.2f s, past --max-downtime %.2f s, before %@", frozen, options.maxDowntime, step.rawValue))
        }
    }

    /// The source's images directory (a dump device's images are the target's to remove).
    func removeLocalImages() {
        try? FileManager.default.removeItem(atPath: journal.imagesDirectory)
    }

    private var agentLogger: Logger {
        var logger = Logger(label: "ferry.agent")
        logger[metadataKey: "container"] = "\(name)"
        return logger
    }

    private var mountsSource: Bool {
        !online && runtime.config.storage.isInsulated && plan?.data == .rsync
    }

    private mutating func syncPrivateArea(exact: Bool) throws(FerryError) {
        guard let job = try finalSyncJob(exact: exact) else { return }
        dataBytes += try job()
    }

    /// The sync of the private area to the target as a job to run now or beside the dump;
    /// nil when nothing is copied (shared storage). An exact sync with a tracker running
    /// (the frozen one) sends only the paths that changed, once the tracker has drained.
    func finalSyncJob(exact: Bool = true) throws(FerryError) -> (@Sendable () throws(FerryError) -> UInt64)? {
        guard try planned().data == .rsync else { return nil }
        let (source, destination, target, logger, progress) = (
            runtime.layout.privateArea, try staged().privateArea, options.target, logger, transferProgress(.files)
        )
        guard exact, let syncSource, let pending = pendingPush else {
            return { () throws(FerryError) -> UInt64 in
                try Rsync.push(source, to: destination, target: target, exact: exact, logger: logger, progress: progress)
            }
        }
        let (tracker, cgroup) = (tracker, runtime.cgroup)
        return { () throws(FerryError) -> UInt64 in
            let started = Monotonic.now
            switch tracker?.drain(processes: cgroup.pids) ?? .whole(reason: "the changes were not tracked") {
            case .whole(let reason):
                logger.notice("the frozen-phase sync copies the whole private area", metadata: ["reason": "\(reason)"])
                return try Rsync.push(syncSource.path, to: destination, target: target, exact: true, logger: logger, progress: progress)
            case .changed(let paths):
                logger.info(
                    "the frozen-phase sync sends the paths that changed",
                    metadata: ["paths": "\(paths.count)", "drained in": "\(String(format: "%.3f", Monotonic.now - started))"])
                let bytes = try pending.send(paths, logger: logger)
                logger.info("the paths that changed were sent", metadata: ["seconds": "\(String(format: "%.3f", Monotonic.now - started))"])
                return bytes
            }
        }
    }

    /// Where a transport reports its bytes: the event sink, as transfers of `kind`.
    private func transferProgress(_ kind: MigrationEvent.TransferKind) -> (@Sendable (TransferProgress) -> Void)? {
        guard let events = options.events else { return nil }
        return { progress in events(.transfer(kind, progress)) }
    }

    /// The agent channel; a fresh one when this run (a recovery) has none yet, or when the
    /// last call broke it (an undo after a cut link tries a new connection).
    private mutating func agent() throws(FerryError) -> any AgentCalling {
        if let channel, !channel.isBroken { return channel }
        let fresh = try AgentChannel(target: options.target, remoteFerry: options.remoteFerry, logger: agentLogger)
        channel = fresh
        return fresh
    }

    private func planned() throws(FerryError) -> MigrationPlan {
        guard let plan else { throw FerryError(.invalidState, "the migration was not planned (check-target did not run)") }
        return plan
    }

    private func staged() throws(FerryError) -> AgentResponse.Prepared {
        guard let prepared else { throw FerryError(.invalidState, "the target was not prepared") }
        return prepared
    }

    /// This host's side of the plan: the container, its area, CRIU and the kernel.
    private func sourceFacts() throws(FerryError) -> SourceFacts {
        SourceFacts(
            config: runtime.config, online: online, areaBytes: try privateAreaBytes(), areaSizeBytes: try sourceAreaSize(),
            criuVersion: online ? try engine.version() : try? engine.version(), kernel: KernelFeatures.cached(), needs: needs)
    }

    /// The size the source's area was given (image or device); nil for a directory.
    private func sourceAreaSize() throws(FerryError) -> UInt64? {
        switch runtime.config.storage {
        case .insulatedImage(_, let size): return size
        case .insulatedDevice(let path):
            let output = try Spawn.check(["blockdev", "--getsize64", path], "cannot read the size of \(path)")
            return UInt64(output.stdout.trimmingNewline) ?? 0
        case .shared:
            return nil
        }
    }

    private var probedDevice: String? {
        guard case .insulatedDevice(let device) = runtime.config.storage, options.targetStorage == nil else { return nil }
        return device
    }

    /// Mounts a stopped container's device for the probe; returns whether it did.
    private func mountForProbe() throws(FerryError) -> Bool {
        guard probedDevice != nil, !(try MountTable.isMountPoint(runtime.layout.privateArea)) else { return false }
        try runtime.privateArea.mountPrivate()
        return true
    }

    /// Removes the marker and unmounts what `mountForProbe` mounted.
    private func releaseProbe(mountedHere: Bool) {
        guard probedDevice != nil else { return }
        SharedStorageProbe.removeMarker(mountPoint: runtime.layout.privateArea)
        if mountedHere { try? runtime.privateArea.unmountPrivate() }
    }

    /// For a container on a block device: a marker on it that only the same device holds.
    private func sharedStorageProbe() throws(FerryError) -> SharedStorageProbe? {
        guard let device = probedDevice else { return nil }
        return try SharedStorageProbe.make(device: device, mountPoint: runtime.layout.privateArea)
    }

    /// The container's resident memory now: about what CRIU's page images will take.
    private func memoryBytes() -> UInt64 {
        runtime.cgroup.pids.reduce(0) { total, pid in
            let kilobytes = ProcFS.Status(of: "\(pid)")?.values("VmRSS").first.flatMap { UInt64($0) } ?? 0
            return total + kilobytes * 1024
        }
    }

    /// Bytes in the private area, measured once (`du` over many files is not free).
    private func privateAreaBytes() throws(FerryError) -> UInt64 {
        let output = try Spawn.run(["du", "-sb", "--one-file-system", runtime.layout.privateArea])
        return UInt64(output.stdout.split(separator: "\t").first ?? "0") ?? 0
    }
}

/// The frozen-phase sync that the checkpoint starts once the container is frozen (a box:
/// the freeze happens inside the checkpointer's call).
private final class StartedSync {
    var frozenAt: Double?
    var task: BackgroundTask<UInt64>?
}
