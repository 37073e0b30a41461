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

    public init(manager: ContainerManager, engine: CRIUEngine) {
        self.manager = manager
        self.engine = engine
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
        /// Receives phase names and transfer progress as they happen (the CLI shows them on
        /// a terminal); nil for none.
        public var progress: (@Sendable (MigrationProgress) -> Void)?

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
        if let running {
            let blocked = MountReport(try MountCapturer(runtime: runtime, state: running).capture()).blocked
            if !blocked.isEmpty {
                throw FerryError(.invalidState, "cannot migrate \(name): mount \(blocked[0].mountPoint) is \(blocked[0].verdict); see 'ferry mounts \(name)'")
            }
        }
        var options = options
        options.target.controlPath = "/tmp/ferry-ssh-\(getpid())-%C"
        var run = MigrationRun(
            manager: manager, engine: engine, runtime: runtime, options: options, online: online,
            journal: MigrationJournal(
                container: name.value, target: options.target, remoteFerry: options.remoteFerry,
                imagesDirectory: "\(runtime.layout.directory)/migration-images",
                dumpDevice: try options.dumpDevice.map { (device) throws(FerryError) in try DumpDevice.prepare(device: device, name: name) },
                undo: []))
        do throws(FerryError) {
            return try run.execute()
        } catch {
            let undoProblems = run.rollBack()
            let note = undoProblems.isEmpty ? "" : "; undo problems: \(undoProblems.joined(separator: "; "))"
            throw FerryError(
                error.code,
                "migration of \(name) failed: \(error.message); \(online ? "the container runs on the source" : "the container stays on the source") and the target was cleaned\(note)",
                cause: error.cause)
        }
    }

    /// `ferry recover NAME`: finish what a killed migration left, from its journal.
    public func recover(_ name: ContainerName) throws(FerryError) -> String {
        let lock = try OperationLock(root: manager.root, name: name)
        defer { withExtendedLifetime(lock) {} }
        guard let journal = try MigrationJournal.load(root: manager.root, name: name) else {
            throw FerryError(.notFound, "container \(name) has no unfinished migration")
        }
        let runtime = try manager.runtime(name)
        var run = MigrationRun(
            manager: manager, engine: engine, runtime: runtime,
            options: Options(target: journal.target, remoteFerry: journal.remoteFerry), online: true, journal: journal)
        if journal.committed {
            try run.finishSource()
            return "the migration of \(name) had been committed; finished it (the container lives on \(journal.target.destination))"
        }
        let problems = run.rollBack()
        guard problems.isEmpty else {
            throw FerryError(.commandFailed, "recovery of \(name) is incomplete: \(problems.joined(separator: "; ")); run 'ferry recover \(name)' again")
        }
        return "rolled back the migration of \(name): it is \(try manager.runtime(name).loadState().label) on this host and the target was cleaned"
    }
}

/// One migration in progress: its channel, journal and timings.
struct MigrationRun {
    let manager: ContainerManager
    let engine: CRIUEngine
    let runtime: ContainerRuntime
    let options: Migrator.Options
    let online: Bool
    var journal: MigrationJournal
    var channel: AgentChannel?
    var prepared: AgentResponse.Prepared?
    var phases: [MigrationSummary.Phase] = []
    var dataBytes: UInt64 = 0
    var imageBytes: UInt64 = 0
    var frozenStart: Double?
    var frozenSeconds: Double?
    /// The target's path of the source's device, when both see the same storage.
    var sharedDevice: String?
    /// Bytes in the private area, measured once (`du` over many files is not free).
    var sourceBytes: UInt64 = 0

    var name: ContainerName { runtime.config.name }
    var root: StateRoot { manager.root }

    init(manager: ContainerManager, engine: CRIUEngine, runtime: ContainerRuntime, options: Migrator.Options, online: Bool, journal: MigrationJournal) {
        self.manager = manager
        self.engine = engine
        self.runtime = runtime
        self.options = options
        self.online = online
        self.journal = journal
    }

    mutating func execute() throws(FerryError) -> MigrationSummary {
        let started = Monotonic.now
        let steps = online ? MigrationStep.online : MigrationStep.offline
        for step in steps {
            if options.dryRun && step == .prepareTarget { break }
            let stepStarted = Monotonic.now
            options.progress?(.phase(step.rawValue))
            try perform(step)
            phases.append(.init(step: step.rawValue, seconds: Monotonic.now - stepStarted))
        }
        return MigrationSummary(
            container: name.value, target: options.target.destination, mode: online ? "online" : "offline",
            frozenSeconds: frozenSeconds, totalSeconds: Monotonic.now - started, dataBytes: dataBytes,
            imageBytes: imageBytes, phases: phases, dryRun: options.dryRun)
    }

    /// Records the undo (if any), lets FERRY_FAIL_AT strike, then acts.
    private mutating func record(_ undo: MigrationJournal.UndoAction?, before step: MigrationStep) throws(FerryError) {
        if let undo { journal.undo.append(undo) }
        if !options.dryRun { try journal.save(root: root) }
        try FailureInjection.check(step)
    }

    private mutating func perform(_ step: MigrationStep) throws(FerryError) {
        switch step {
        case .connect:
            try record(nil, before: step)
            channel = try AgentChannel(target: options.target, remoteFerry: options.remoteFerry)
        case .checkTarget:
            try record(nil, before: step)
            // A device-backed area is probed for shared storage (mounted briefly if stopped).
            let probed = try mountForProbe()
            defer { releaseProbe(mountedHere: probed) }
            let probe = try sharedStorageProbe()
            sourceBytes = try privateAreaBytes()
            let hello = try agent().call(.hello(name: name.value, neededBytes: sourceBytes, shared: probe)).hello
            guard let hello else { throw FerryError(.corrupt, "target sent no hello") }
            sharedDevice = hello.sharedDevice
            if hello.nameTaken {
                throw FerryError(.alreadyExists, "container \(name) already exists on \(options.target.destination)")
            }
            guard let criu = hello.criuVersion else {
                throw FerryError(.kernelUnsupported, "target \(options.target.destination) has no working CRIU; run scripts/setup there")
            }
            if online, let major = Int(criu.split(separator: ".").first ?? ""), major < 4 {
                throw FerryError(.kernelUnsupported, "target \(options.target.destination) has CRIU \(criu); Ferry needs 4.0 or newer")
            }
        case .prepareTarget:
            try record(.abortTarget, before: step)
            prepared = try agent().call(.prepare(config: try targetConfig())).prepared
        case .mountSource:
            // A stopped insulated container's filesystem is mounted only for the copy.
            let needed = !online && runtime.config.storage.isInsulated && sharedDevice == nil
            try record(needed ? .unmountSourcePrivateArea : nil, before: step)
            if needed { try runtime.privateArea.mountPrivate() }
        case .presync:
            try record(nil, before: step)
            if sharedDevice != nil { return }
            dataBytes += try Rsync.push(runtime.layout.privateArea, to: try staged().privateArea, target: options.target, progress: transferProgress)
        case .checkpoint:
            try record(.restoreSource, before: step)
            try? FileManager.default.removeItem(atPath: journal.imagesDirectory)
            frozenStart = Monotonic.now
            let checkpointer = Checkpointer(manager: manager, engine: engine)
            let name = name
            if let dumpDevice = journal.dumpDevice {
                try dumpDevice.withMounted(at: dumpMountPoint) { (images) throws(FerryError) in
                    try makeParent(of: images)
                    _ = try checkpointer.checkpoint(name, to: images, leaveRunning: false, lockHeld: true)
                }
            } else {
                _ = try checkpointer.checkpoint(name, to: journal.imagesDirectory, leaveRunning: false, lockHeld: true)
            }
        case .finalSync:
            try record(nil, before: step)
            if sharedDevice != nil { return }
            dataBytes += try Rsync.push(runtime.layout.privateArea, to: try staged().privateArea, target: options.target, progress: transferProgress)
        case .sendImages:
            try record(nil, before: step)
            if journal.dumpDevice != nil { return }
            imageBytes += try Rsync.push(journal.imagesDirectory, to: try staged().images, target: options.target, progress: transferProgress)
        case .restoreTarget:
            // Undo in reverse order: the target's copy must stop before the source restarts
            // (with shared storage it holds the device).
            try record(.abortTarget, before: step)
            _ = try agent().call(.restore(name: name.value, keepImages: options.keepImages, dumpDevice: journal.dumpDevice))
            frozenSeconds = frozenStart.map { Monotonic.now - $0 }
        case .registerTarget:
            try record(.abortTarget, before: step)
            if runtime.config.storage.isInsulated { try runtime.privateArea.unmountPrivate() }
            _ = try agent().call(.register(name: name.value))
        case .finishSource:
            try record(nil, before: step)
            journal.committed = true
            try journal.save(root: root)
            try finishSource()
        }
    }

    /// The point of no return: the target keeps the container, the source lets it go.
    mutating func finishSource() throws(FerryError) {
        _ = try agent().call(.commit(name: name.value))
        if runtime.config.storage.isInsulated { try? runtime.privateArea.unmountPrivate() }
        if !options.keepImages { try? FileManager.default.removeItem(atPath: journal.imagesDirectory) }
        MigrationJournal.remove(root: root, name: name)
        if !options.keepSource {
            try manager.destroy(name, locked: true)
        }
    }

    /// Runs the recorded undos backwards; returns what could not be undone.
    mutating func rollBack() -> [String] {
        var problems: [String] = []
        for action in journal.undo.reversed() {
            do throws(FerryError) {
                switch action {
                case .abortTarget:
                    _ = try agent().call(.abort(name: name.value))
                case .restoreSource:
                    // As the failed step left it: a source that still runs needs no restore.
                    switch try manager.runtime(name).loadState() {
                    case .running: continue
                    case .unreadable(let error): throw error
                    case .stopped, .crashed: break
                    }
                    let restorer = Restorer(manager: manager, engine: engine)
                    let name = name
                    let restore = { (images: String) throws(FerryError) in
                        if access("\(images)/\(CheckpointManifest.fileName)", F_OK) == 0 {
                            _ = try restorer.restore(name, from: images, remap: .init(), lockHeld: true)
                        }
                    }
                    if let dumpDevice = journal.dumpDevice {
                        try dumpDevice.withMounted(at: dumpMountPoint) { (images) throws(FerryError) in
                            try restore(images)
                            try? FileManager.default.removeItem(atPath: images)
                        }
                    } else {
                        try restore(journal.imagesDirectory)
                    }
                case .unmountSourcePrivateArea:
                    try runtime.privateArea.unmountPrivate()
                }
            } catch {
                problems.append("\(action): \(error.message)")
            }
        }
        if problems.isEmpty {
            try? FileManager.default.removeItem(atPath: journal.imagesDirectory)
            MigrationJournal.remove(root: root, name: name)
        }
        return problems
    }

    private var transferProgress: (@Sendable (String) -> Void)? {
        guard let progress = options.progress else { return nil }
        return { line in progress(.transfer(line)) }
    }

    private var dumpMountPoint: String { "\(runtime.layout.directory)/dump-device" }

    private func makeParent(of path: String) throws(FerryError) {
        try makeDirectories(String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)]))
    }

    /// The agent channel, reconnecting if this run (a recovery) has none yet.
    private mutating func agent() throws(FerryError) -> AgentChannel {
        if let channel { return channel }
        let fresh = try AgentChannel(target: options.target, remoteFerry: options.remoteFerry)
        channel = fresh
        return fresh
    }

    /// The container's config as the target will keep it: the storage kind may change
    /// (`--dst-storage`); an insulated area gets an image of its own on the target.
    private func targetConfig() throws(FerryError) -> ContainerConfig {
        var config = runtime.config
        if let sharedDevice {
            config.storage = .insulatedDevice(path: sharedDevice)
            return config
        }
        let size = try sourceAreaSize()
        switch options.targetStorage ?? (config.storage.isInsulated ? .insulated : .shared) {
        case .shared:
            config.storage = .shared
        case .insulated:
            config.storage = .insulatedImage(file: "private.img", sizeBytes: options.targetImageBytes ?? size)
        }
        return config
    }

    /// The size the source's area was given (image or device), or its contents plus room.
    private func sourceAreaSize() throws(FerryError) -> UInt64 {
        switch runtime.config.storage {
        case .insulatedImage(_, let size): return size
        case .insulatedDevice(let path):
            let output = try Spawn.check(["blockdev", "--getsize64", path], "cannot read the size of \(path)")
            return UInt64(output.stdout.trimmingNewline) ?? 0
        case .shared:
            return max(256 << 20, sourceBytes * 2)
        }
    }

    private func staged() throws(FerryError) -> AgentResponse.Prepared {
        guard let prepared else { throw FerryError(.invalidState, "the target was not prepared") }
        return prepared
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

    private func privateAreaBytes() throws(FerryError) -> UInt64 {
        let output = try Spawn.run(["du", "-sb", "--one-file-system", runtime.layout.privateArea])
        return UInt64(output.stdout.split(separator: "\t").first ?? "0") ?? 0
    }
}
