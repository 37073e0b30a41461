import FerryCRIU
import FerryCheckpoint
import FerryContainers
import FerryErrors
import FerryMounts
import FerrySystem
import Foundation
import Glibc
import Logging

/// `ferry migrate`: moves a container to another host over ssh, live or offline.
///
/// Every step records its undo in the journal before acting; any failure runs the undos
/// backwards, so the source container is running (or stopped, as it was) and the target
/// holds nothing of it.
public struct Migrator {
    public let manager: ContainerManager
    public let engine: CRIUEngine
    public let logger: Logger

    public init(manager: ContainerManager, engine: CRIUEngine, logger: Logger = Logger(label: "ferry.migrate")) {
        self.manager = manager
        self.engine = engine
        self.logger = logger
    }

    public struct Options: Sendable {
        public enum Mode: String, Sendable { case automatic, online, offline }
        public var target: SSHTarget
        public var mode: Mode = .automatic
        public var keepSource = false
        public var keepImages = false
        public var dryRun = false
        /// The ferry executable on the target.
        public var remoteFerry: String
        public enum TargetStorage: String, Sendable { case shared, insulated }
        /// nil: the same kind as on the source.
        public var targetStorage: TargetStorage?
        public var targetImageBytes: UInt64?
        /// A block device both hosts see, for the images (`--dump-dir-device`).
        public var dumpDevice: String?
        /// Seconds within which the source must commit once the target has its copy; past
        /// them the target fences it (`FERRY_MIGRATION_LEASE`, default 60). It also bounds
        /// how long a source that lost its target waits before resuming.
        public var lease: Double = ProcessInfo.processInfo.environment["FERRY_MIGRATION_LEASE"].flatMap(Double.init) ?? 60
        /// The longest the container may stay frozen before its copy on the target runs
        /// (`--max-downtime`, default 120 s): past it the migration is undone and the
        /// container resumes on the source.
        public var maxDowntime: Double = 120
        /// `--postcopy`: the target's copy runs before its memory has arrived (see
        /// LazyDumpSession and PostcopyArrival); implies an online migration.
        public var postcopy = false
        /// Receives the migration's events as they happen (the CLI renders them in words or
        /// as JSON lines); nil for none, and then rsync is not asked for its progress.
        public var events: (@Sendable (MigrationEvent) -> Void)?

        public init(target: SSHTarget, remoteFerry: String) {
            self.target = target
            self.remoteFerry = remoteFerry
        }
    }

    public func migrate(_ name: ContainerName, _ options: Options) throws(FerryError) -> MigrationSummary {
        let lock = try OperationLock(root: manager.root, name: name)
        defer { withExtendedLifetime(lock) {} }
        if try MigrationJournal.load(root: manager.root, name: name) != nil {
            throw FerryError(.invalidState, "container \(name) has an unfinished migration; run 'ferry recover \(name)' first")
        }
        let runtime = try manager.runtime(name)
        let running: RuntimeState?
        switch (options.mode, runtime.loadState()) {
        case (_, .unreadable(let error)):
            throw error
        case (.offline, .running):
            throw FerryError(.invalidState, "container \(name) is running; stop it for --offline, or migrate it --online")
        case (.online, .stopped), (.online, .crashed):
            throw FerryError(.invalidState, "container \(name) is not running; an --online migration needs a running container")
        case (_, .running(let state)): running = state
        case (_, .stopped), (_, .crashed): running = nil
        }
        let online = running != nil
        // The same plan `ferry mounts` and `ferry checkpoint` build: what it refuses, this
        // refuses, before anything changes.
        let checkpointPlan = try running.map { (state) throws(FerryError) in try CheckpointPlan(runtime: runtime, state: state) }
        try checkpointPlan?.refuseIfBlocked("migrate", name)
        var options = options
        options.target.controlPath = "/tmp/ferry-ssh-\(getpid())-%C"
        let journal = MigrationJournal(
            container: name.value, target: options.target, remoteFerry: options.remoteFerry,
            imagesDirectory: "\(runtime.layout.directory)/migration-images",
            dumpDevice: try options.dumpDevice.map { (device) throws(FerryError) in try DumpDevice.prepare(device: device, name: name) },
            undo: [])
        var run = MigrationRun(
            manager: manager, engine: engine, runtime: runtime, options: options, online: online, journal: journal,
            needs: Self.needs(runtime.config, checkpointPlan, online: online, postcopy: options.postcopy), logger: logger)
        let root = manager.root
        let dryRun = options.dryRun
        var executor = MigrationExecutor(journal: journal, logger: logger) { (journal) throws(FerryError) in
            if !dryRun { try journal.save(root: root) }
        }
        let started = Monotonic.now
        // Raised only while a post-copy serves pages, and put back whatever happens.
        defer { run.restorePipeLimit() }
        do throws(FerryError) {
            let rows = dryRun ? MigrationRun.probeRows : MigrationRun.rows(online: online, postcopy: options.postcopy)
            try executor.run(rows, on: &run) { event in options.events?(event) }
        } catch {
            // A target that answered "no" to the commit holds no running copy: undo.
            if executor.journal.committed, error.code != .declined {
                // Past the point of no return: the target may run the container now.
                throw FerryError(
                    error.code,
                    "migration of \(name) was committed but not finished: \(error.message); the container is the target's or frozen there until its lease ends; its images stay here; run 'ferry recover \(name)'",
                    cause: error.cause)
            }
            let undoProblems = run.rollBack(&executor)
            let note = undoProblems.isEmpty ? "" : "; undo problems: \(undoProblems.joined(separator: "; "))"
            if error.code == .interrupted {
                throw FerryError(
                    .interrupted,
                    "migration of \(name) \(error.message); rolled back: \(whereItIs(name, wasRunning: online, undoProblems: undoProblems))\(note)",
                    cause: error.cause)
            }
            throw FerryError(
                error.code,
                "migration of \(name) failed: \(error.message); \(whereItIs(name, wasRunning: online, undoProblems: undoProblems))\(note)",
                cause: error.cause)
        }
        let summary = run.summary(phases: executor.phases, totalSeconds: Monotonic.now - started)
        options.events?(.summary(summary))
        return summary
    }

    /// `ferry recover NAME`: finish what a killed migration left, from its journal.
    /// `forgetTarget`: the target is gone for good; undo without it (see `forget`).
    public func recover(_ name: ContainerName, forgetTarget: Bool = false) throws(FerryError) -> String {
        let lock = try OperationLock(root: manager.root, name: name)
        defer { withExtendedLifetime(lock) {} }
        guard let journal = try MigrationJournal.load(root: manager.root, name: name) else {
            throw FerryError(.notFound, "container \(name) has no unfinished migration")
        }
        let runtime = try manager.runtime(name)
        var run = MigrationRun(
            manager: manager, engine: engine, runtime: runtime,
            options: Options(target: journal.target, remoteFerry: journal.remoteFerry), online: true, journal: journal,
            needs: [], logger: logger)
        let root = manager.root
        var executor = MigrationExecutor(journal: journal, logger: logger) { (journal) throws(FerryError) in try journal.save(root: root) }
        if forgetTarget { return try forget(name, run: &run, executor: &executor) }
        // Ask before acting: a commit may or may not have reached the target.
        if journal.committed, Recovery(committed: true, held: try run.targetHolds()) == .finish {
            try run.finishSource()
            return "the migration of \(name) had been committed; finished it (the container lives on \(journal.target.destination))"
        }
        let problems = run.rollBack(&executor)
        guard problems.isEmpty else {
            throw FerryError(.commandFailed, "recovery of \(name) is incomplete: \(problems.joined(separator: "; ")); run 'ferry recover \(name)' again")
        }
        return "rolled back the migration of \(name): it is \(try manager.runtime(name).loadState().label) on this host and the target was cleaned"
    }

    /// Gives up on the target without asking it: waits until its lease has surely ended
    /// (its monitor has fenced any copy without a commit), then brings the container back
    /// here and remembers the target, which the next contact cleans.
    ///
    /// A committed journal is the one risk the admin takes: if the commit did reach the
    /// target, that host owns a copy too. The next contact then reports it and leaves it.
    private func forget(_ name: ContainerName, run: inout MigrationRun, executor: inout MigrationExecutor) throws(FerryError) -> String {
        let journal = executor.journal
        let forgotten = ForgottenTarget(container: name.value, destination: journal.target.destination, committed: journal.committed)
        // Recorded first: should the undo fail half-way, the target is still cleaned later.
        try forgotten.save(manager.root)
        let problems = run.rollBack(&executor, forgettingTarget: true)
        guard problems.isEmpty else {
            throw FerryError(.commandFailed, "recovery of \(name) is incomplete: \(problems.joined(separator: "; ")); run 'ferry recover \(name) --forget-target' again")
        }
        let state = try manager.runtime(name).loadState().label
        let warning =
            journal.committed
            ? "; the migration had been committed: if \(journal.target.destination) got the commit it runs its own copy, which the next migration there reports"
            : ""
        return "forgot \(journal.target.destination): the container \(name) is \(state) on this host; the target fences its copy on its own lease and is cleaned at the next contact\(warning)"
    }

    /// Where the container is after a failed migration, as it is now (not as hoped).
    private func whereItIs(_ name: ContainerName, wasRunning: Bool, undoProblems: [String]) -> String {
        let target = undoProblems.isEmpty ? "the target was cleaned" : "the target may still hold parts of it: run 'ferry recover \(name)'"
        switch (try? manager.runtime(name).loadState(), wasRunning) {
        case (.running?, _): return "the container runs on the source and \(target)"
        case (.stopped?, false): return "the container stays on the source, stopped, and \(target)"
        case (let state, _): return "the container is \(state?.label ?? "unknown") on the source (it was running) and \(target)"
        }
    }

    /// The kernel features the target needs to run this container: the freezer for a live
    /// migration, overlayfs, FUSE or autofs when its root or its mounts use them.
    static func needs(_ config: ContainerConfig, _ plan: CheckpointPlan?, online: Bool, postcopy: Bool = false) -> Set<KernelFeatures.Feature> {
        var needs: Set<KernelFeatures.Feature> = [.openat2]
        if online { needs.insert(.cgroupFreezer) }
        if postcopy { needs.insert(.userfaultfd) }
        if config.overlayTemplate != nil { needs.insert(.overlayfs) }
        for entry in plan?.report.entries ?? [] {
            switch entry.fsType {
            case "overlay": needs.insert(.overlayfs)
            case "autofs": needs.insert(.autofs)
            case let type where type == "fuse" || type.hasPrefix("fuse."): needs.insert(.fuse)
            default: break
            }
        }
        return needs
    }
}
