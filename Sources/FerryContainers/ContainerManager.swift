import FerryErrors
import FerrySystem
import Foundation
import Glibc
import Logging

/// The lifecycle operations behind `ferry create/start/stop/destroy/list/status`.
public struct ContainerManager {
    public let root: StateRoot
    public let logger: Logger
    /// The `ferry` executable, re-run as the container monitor.
    public let executable: String

    public init(root: StateRoot, logger: Logger, executable: String) {
        self.root = root
        self.logger = logger
        self.executable = executable
    }

    public func create(_ request: CreateRequest) throws(FerryError) -> ContainerConfig {
        try root.prepare()
        let lock = try OperationLock(creatingIn: root)
        defer { withExtendedLifetime(lock) {} }
        return try ContainerCreation(root: root, request: request, logger: logger).run()
    }

    /// Replaces a container's config (restore with moved host paths records them here).
    public func saveConfig(_ config: ContainerConfig) throws(FerryError) {
        try JSONFile.write(config, to: root.layout(of: config.name).config)
    }

    /// Reads the config of a layout that is not (yet) in place.
    public func readConfig(at layout: ContainerLayout) throws(FerryError) -> ContainerConfig {
        try JSONFile.read(ContainerConfig.self, from: layout.config, what: "staged config")
    }

    /// Writes a config into a layout that is not (yet) in place, e.g. a migration's staging.
    public func writeConfig(_ config: ContainerConfig, to layout: ContainerLayout) throws(FerryError) {
        try JSONFile.write(config, to: layout.config)
    }

    public func runtime(_ name: ContainerName) throws(FerryError) -> ContainerRuntime {
        try ContainerRuntime(root: root, name: name, logger: logger)
    }

    /// Starts the container under a detached monitor and returns the init's host pid.
    /// `fresh`: boot anew although a checkpoint waits to be restored (it is then marked used).
    public func start(_ name: ContainerName, fresh: Bool = false, timeout: Double = 60) throws(FerryError) -> pid_t {
        let lock = try OperationLock(root: root, name: name)
        defer { withExtendedLifetime(lock) {} }
        let runtime = try runtime(name)
        switch runtime.loadState() {
        case .running(let state):
            throw FerryError(.invalidState, "container \(name) is already running (pid \(state.initPid))")
        case .crashed(let state):
            try cleanUpCrashed(runtime, state)
        case .unreadable(let error):
            throw error
        case .stopped:
            break
        }
        let checkpoint = runtime.layout.checkpoint
        let waiting: Bool
        if case .unused(let createdAt) = CheckpointUse.state(of: checkpoint) {
            guard fresh else {
                throw FerryError(
                    .invalidState,
                    "container \(name) has a checkpoint from \(CheckpointUse.describe(createdAt)) that was never restored; 'ferry restore \(name)' resumes it, or 'ferry start \(name) --fresh' boots it anew")
            }
            waiting = true
        } else {
            waiting = false
        }
        let pid = try launchMonitor(runtime, arguments: [], timeout: timeout)
        if waiting { try? CheckpointUse.mark(checkpoint, by: "fresh start") }
        return pid
    }

    /// Spawns `ferry __monitor` (with extra arguments, e.g. a checkpoint to restore from)
    /// and waits for its report. The caller holds the container's lock and has found the
    /// container stopped, or cleaned up after its crash.
    public func launchMonitor(_ runtime: ContainerRuntime, arguments: [String], timeout: Double = 60) throws(FerryError) -> pid_t {
        let name = runtime.config.name
        let report = try makePipe()
        let log = try OwnedFileDescriptor.open(runtime.layout.monitorLog, O_WRONLY | O_CREAT | O_APPEND)
        let monitor = try Spawn.start(
            [executable, "__monitor", "--root", root.path] + arguments + [name.value],
            environment: Spawn.defaultEnvironment + criuEnvironment,
            stdout: log.rawValue, stderr: log.rawValue, extraDescriptors: [report.write.rawValue], newSession: true)
        report.write.close()
        let handle = try? ProcessHandle(pid: monitor)
        let answer = MonitorHandshake(parsing: String(decoding: (try? report.read.readAll()) ?? [], as: UTF8.self))
        if case .started(let pid) = answer {
            // The monitor stays; it is not our child to wait for, but reap it if it were.
            return pid
        }
        _ = handle?.waitForExit(seconds: timeout)
        _ = Spawn.reapIfExited(monitor)
        if case .failed(let message) = answer {
            throw FerryError(.commandFailed, "cannot start container \(name): \(message)")
        }
        if case .exited(let status) = answer {
            let lines = runtime.layout.consoleLog.lastLines(Self.exitLines)
            let output = lines.isEmpty ? "it printed nothing" : "its last output:\n  " + lines.joined(separator: "\n  ")
            throw FerryError(
                .commandFailed,
                "cannot start container \(name): init exited with status \(status) right after it started; \(output)\n(all of it: 'ferry logs \(name)')")
        }
        throw FerryError(
            .commandFailed, "cannot start container \(name): its monitor exited without a word; see \(runtime.layout.monitorLog)")
    }

    /// How many lines of an init that exited at once `start` quotes.
    static let exitLines = 10

    /// How a stop ended.
    public enum StopOutcome: Sendable, Equatable {
        /// The init exited on its shutdown signal within the timeout.
        case shutDown
        /// SIGKILL: asked for (timeout 0), no shutdown signal the init handles, or the
        /// timeout ran out.
        case killed
        /// It had already exited on its own; Ferry only cleaned up.
        case alreadyExited
        /// It was stopped before: nothing was done. Not an error, as in podman and
        /// `systemctl stop`: the admin asked for a state, and it holds.
        case notRunning
    }

    /// Stops the container: the init's own shutdown signal, then SIGKILL after `timeout`.
    /// `locked`: the caller already holds the container's lock.
    @discardableResult
    public func stop(_ name: ContainerName, timeout: Double = 10, locked: Bool = false) throws(FerryError) -> StopOutcome {
        let lock = locked ? nil : try OperationLock(root: root, name: name)
        defer { withExtendedLifetime(lock) {} }
        let runtime = try runtime(name)
        let state: RuntimeState
        switch runtime.loadState() {
        case .running(let running):
            state = running
        case .crashed(let crashed):
            try cleanUpCrashed(runtime, crashed)
            logger.warning("container had exited on its own; cleaned up", metadata: ["container": "\(name)"])
            return .alreadyExited
        case .unreadable(let error):
            throw error
        case .stopped:
            return .notRunning
        }
        let initProcess = try ProcessHandle(pid: state.initPid)
        let monitor = state.monitorAlive ? try? ProcessHandle(pid: state.monitorPid) : nil
        let signal = ShutdownSignal.choose(for: state.initPid)
        if let signal, timeout > 0 {
            try initProcess.signal(signal)
            logger.debug("sent shutdown signal", metadata: ["signal": "\(signal)"])
        }
        var outcome = StopOutcome.shutDown
        if signal == nil || timeout <= 0 || !initProcess.waitForExit(seconds: timeout) {
            outcome = .killed
            try initProcess.signal(SIGKILL)
            // A frozen container (a migrated copy waiting for its commit) dies only once
            // thawed; killed first, it never runs another instruction.
            if runtime.cgroup.isFreezeRequested { try? runtime.cgroup.thaw() }
            guard initProcess.waitForExit(seconds: 30) else {
                throw FerryError(.timedOut, "container \(name) init (pid \(state.initPid)) did not die after SIGKILL")
            }
        }
        // The monitor reaps the init and tears the host side down; wait for it.
        if let monitor, monitor.waitForExit(seconds: 60) {
            if runtime.hasRunState { try runtime.teardown() }
        } else {
            try runtime.teardown()
        }
        return outcome
    }

    public func destroy(_ name: ContainerName, locked: Bool = false) throws(FerryError) {
        let lock = locked ? nil : try OperationLock(root: root, name: name)
        defer { withExtendedLifetime(lock) {} }
        let runtime = try runtime(name)
        switch runtime.loadState() {
        case .running:
            throw FerryError(.invalidState, "container \(name) is running; 'ferry stop \(name)' first, or 'ferry destroy --force \(name)'")
        case .crashed(let state):
            try cleanUpCrashed(runtime, state)
        case .unreadable(let error):
            throw error
        case .stopped:
            break
        }
        let directory = runtime.layout.directory
        if let mount = try MountTable.current().first(where: { $0.mountPoint.hasPrefix(directory + "/") }) {
            throw FerryError(.busy, "\(mount.mountPoint) is still mounted; unmount it before destroying \(name)")
        }
        try removeTree(directory)
        logger.info("container destroyed", metadata: ["container": "\(name)"])
    }

    /// A one-line summary per container (`list`, `status`; ContainerSummaryJSON.swift
    /// gives its JSON, which names every field here).
    public struct Summary: Sendable, Encodable {
        public var name: String
        /// `ContainerState.label`: stopped, running, crashed or unreadable.
        public var status: String
        /// The running init's host pid.
        public var pid: Int32?
        /// When the running container started (a restore counts as a start).
        public var startedAt: Date?
        public var hostname: String
        /// Why the state is unreadable, with the fix; absent otherwise.
        public var problem: String?
        public var storage: ContainerConfig.Storage
        public var overlay: Bool
        public var rootfs: String
        public var binds: [BindMount]
        public var command: [String]
        /// An unfinished migration: leaving (a journal here) or arriving (a lease mark);
        /// absent otherwise.
        public var migration: String?
        /// `SecurityProfile`: hardened or privileged.
        public var security: String
        /// A `--userns` container's id range; absent for the others.
        public var userNamespace: UserNamespaceMap? = nil
        /// Its `--allow-device`s.
        public var devices: [OptionalDevice] = []
        /// The container's network identity; absent for a container with only `lo`.
        public var network: ContainerNetwork?
        /// The host end of its veth pair; absent without a network.
        public var hostInterface: String?
        /// Memory, CPU and task limits; absent without any.
        public var limits: ResourceLimits?
        /// The default checkpoint: when it was made and whether it has served.
        public var checkpoint: CheckpointUse.State
        /// Each `--share` and whether this host has it mounted now.
        public var shares: [ShareSummary]
        /// Whether `ferry autostart` starts it.
        public var autostart: Bool
        /// How the init last ended on its own (a checkpoint's kill does not count); absent
        /// while it runs, or when it never has.
        public var lastExit: ExitRecord?
    }

    public struct ShareSummary: Sendable, Encodable {
        public var share: NetworkShare
        /// The host path it is mounted at while the container runs.
        public var mountPoint: String
        public var mounted: Bool
        /// Since when a placeholder stands in for it (its server was away at restore), and
        /// whether the share is back and waits to be swapped in; nil when none does.
        public var placeholderSince: Date?
        public var returned: Bool?
    }

    public func summary(_ name: ContainerName) throws(FerryError) -> Summary {
        let runtime = try runtime(name)
        let state = runtime.loadState()
        var pid: Int32?
        var startedAt: Date?
        var problem: String?
        switch state {
        case .running(let running):
            pid = running.initPid
            startedAt = running.startedAt
        case .unreadable(let error): problem = error.message
        case .stopped, .crashed: break
        }
        return Summary(
            name: name.value, status: state.label, pid: pid, startedAt: startedAt, hostname: runtime.config.hostname, problem: problem,
            storage: runtime.config.storage, overlay: runtime.config.overlayTemplate != nil,
            rootfs: runtime.rootfs, binds: runtime.config.binds, command: runtime.config.initArguments,
            migration: migration(of: runtime), security: runtime.config.profile.rawValue, userNamespace: runtime.config.userNamespace,
            devices: runtime.config.optionalDevices,
            network: runtime.config.network, hostInterface: runtime.config.network.map { _ in ContainerNetwork.hostInterface(for: name) },
            limits: runtime.config.limits, checkpoint: CheckpointUse.state(of: runtime.layout.checkpoint),
            shares: runtime.config.declaredShares.indices.map { index in
                let path = runtime.shares.mountPoint(index)
                let placeholder = runtime.shares.placeholders[index]
                return ShareSummary(
                    share: runtime.config.declaredShares[index], mountPoint: path, mounted: (try? MountTable.isMountPoint(path)) ?? false,
                    placeholderSince: placeholder?.since, returned: placeholder?.returned)
            },
            autostart: runtime.config.startsAtBoot, lastExit: pid == nil ? ExitRecord.read(runtime.layout) : nil)
    }

    /// What `list` and `status` say of a migration in progress or left unfinished.
    private func migration(of runtime: ContainerRuntime) -> String? {
        let name = runtime.config.name
        if access(root.migrationJournal(of: name), F_OK) == 0 {
            return "leaving: unfinished migration; 'ferry recover \(name)' finishes or undoes it"
        }
        switch MigrationLease.read(runtime.layout)?.state {
        case .pending: return "arriving: frozen until its source commits (or its lease ends)"
        case .fenced: return "arriving: fenced (its lease ended before a commit); it runs nowhere here"
        case nil: return nil
        }
    }

    public func list() -> [Summary] {
        root.containerNames().compactMap { try? summary($0) }
    }

    /// Waits for a monitor still tearing down after its init, then finishes the teardown.
    private func cleanUpCrashed(_ runtime: ContainerRuntime, _ state: RuntimeState) throws(FerryError) {
        if state.monitorAlive, let monitor = try? ProcessHandle(pid: state.monitorPid) {
            _ = monitor.waitForExit(seconds: 30)
        }
        try runtime.teardown()
    }

    /// The monitor needs to find CRIU the way this process does.
    private var criuEnvironment: [String] {
        ["FERRY_CRIU", "FERRY_CACHE"].compactMap { key in
            ProcessInfo.processInfo.environment[key].map { "\(key)=\($0)" }
        }
    }
}
