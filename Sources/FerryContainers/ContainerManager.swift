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
    public func start(_ name: ContainerName, timeout: Double = 60) throws(FerryError) -> pid_t {
        let lock = try OperationLock(root: root, name: name)
        defer { withExtendedLifetime(lock) {} }
        return try launchMonitor(name, arguments: [], timeout: timeout)
    }

    /// Spawns `ferry __monitor` (with extra arguments, e.g. a checkpoint to restore from)
    /// and waits for its report. The caller holds the container's lock.
    public func launchMonitor(_ name: ContainerName, arguments: [String], timeout: Double = 60) throws(FerryError) -> pid_t {
        let runtime = try runtime(name)
        switch runtime.status {
        case .running:
            throw FerryError(.invalidState, "container \(name) is already running (pid \(runtime.runtimeState?.initPid ?? 0))")
        case .crashed:
            try cleanUpCrashed(runtime)
        case .stopped:
            break
        }
        let report = try makePipe()
        let log = try OwnedFileDescriptor.open(runtime.layout.monitorLog, O_WRONLY | O_CREAT | O_APPEND)
        let monitor = try Spawn.start(
            [executable, "__monitor", "--root", root.path] + arguments + [name.value],
            environment: Spawn.defaultEnvironment + criuEnvironment,
            stdout: log.rawValue, stderr: log.rawValue, extraDescriptors: [report.write.rawValue], newSession: true)
        report.write.close()
        let handle = try? ProcessHandle(pid: monitor)
        let answer = String(decoding: (try? report.read.readAll()) ?? [], as: UTF8.self).trimmingNewline
        if answer.hasPrefix("ok "), let pid = pid_t(answer.dropFirst(3)) {
            // The monitor stays; it is not our child to wait for, but reap it if it were.
            return pid
        }
        _ = handle?.waitForExit(seconds: timeout)
        _ = Spawn.reapIfExited(monitor)
        if answer.hasPrefix("error ") {
            throw FerryError(.commandFailed, "cannot start container \(name): \(answer.dropFirst(6))")
        }
        throw FerryError(
            .commandFailed, "cannot start container \(name): its monitor exited without a word; see \(runtime.layout.monitorLog)")
    }

    /// How a stop ended.
    public enum StopOutcome: Sendable, Equatable {
        /// The init exited on its shutdown signal within the timeout.
        case shutDown
        /// SIGKILL: asked for (timeout 0), no shutdown signal the init handles, or the
        /// timeout ran out.
        case killed
        /// It had already exited on its own; Ferry only cleaned up.
        case alreadyExited
    }

    /// Stops the container: the init's own shutdown signal, then SIGKILL after `timeout`.
    /// `locked`: the caller already holds the container's lock.
    @discardableResult
    public func stop(_ name: ContainerName, timeout: Double = 10, locked: Bool = false) throws(FerryError) -> StopOutcome {
        let lock = locked ? nil : try OperationLock(root: root, name: name)
        defer { withExtendedLifetime(lock) {} }
        let runtime = try runtime(name)
        guard let state = runtime.runtimeState, runtime.status == .running else {
            if runtime.status == .crashed {
                try cleanUpCrashed(runtime)
                logger.warning("container had exited on its own; cleaned up", metadata: ["container": "\(name)"])
                return .alreadyExited
            }
            throw FerryError(.invalidState, "container \(name) is not running; nothing to stop")
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
            guard initProcess.waitForExit(seconds: 30) else {
                throw FerryError(.timedOut, "container \(name) init (pid \(state.initPid)) did not die after SIGKILL")
            }
        }
        // The monitor reaps the init and tears the host side down; wait for it.
        if let monitor, monitor.waitForExit(seconds: 60) {
            if runtime.runtimeState != nil { try runtime.teardown() }
        } else {
            try runtime.teardown()
        }
        return outcome
    }

    public func destroy(_ name: ContainerName, locked: Bool = false) throws(FerryError) {
        let lock = locked ? nil : try OperationLock(root: root, name: name)
        defer { withExtendedLifetime(lock) {} }
        let runtime = try runtime(name)
        switch runtime.status {
        case .running:
            throw FerryError(.invalidState, "container \(name) is running; 'ferry stop \(name)' first")
        case .crashed:
            try cleanUpCrashed(runtime)
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

    /// A one-line summary per container.
    public struct Summary: Sendable, Codable {
        public var name: String
        public var status: ContainerStatus
        public var pid: Int32?
        public var storage: String
        public var overlay: Bool
        public var rootfs: String
        public var binds: [BindMount]
        public var command: [String]
    }

    public func summary(_ name: ContainerName) throws(FerryError) -> Summary {
        let runtime = try runtime(name)
        let status = runtime.status
        return Summary(
            name: name.value, status: status, pid: status == .running ? runtime.runtimeState?.initPid : nil,
            storage: runtime.config.storage.summary, overlay: runtime.config.overlayTemplate != nil,
            rootfs: runtime.rootfs, binds: runtime.config.binds, command: runtime.config.initArguments)
    }

    public func list() -> [Summary] {
        root.containerNames().compactMap { try? summary($0) }
    }

    private func cleanUpCrashed(_ runtime: ContainerRuntime) throws(FerryError) {
        if let state = runtime.runtimeState, state.monitorAlive, let monitor = try? ProcessHandle(pid: state.monitorPid) {
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

/// Which signal asks an init to shut down, or nil when it would ignore every one.
///
/// A signal from outside a pid namespace reaches its init only if the init handles it: it
/// catches it (SigCgt), or blocks it to read it from a signalfd (SigBlk), as systemd does.
/// Ferry reads both masks instead of waiting in vain.
enum ShutdownSignal {
    static func choose(for pid: pid_t) -> Int32? {
        guard let status = try? readText("/proc/\(pid)/status") else { return nil }
        func mask(_ name: String) -> UInt64 {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return 0 }
            return UInt64(line.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces), radix: 16) ?? 0
        }
        let handled = mask("SigCgt") | mask("SigBlk")
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe")) ?? ""
        // systemd halts on SIGRTMIN+3; SIGTERM would make it re-execute itself.
        let candidates: [Int32] = executable.hasSuffix("/systemd") ? [Signal.realtimeMinimum + 3] : [SIGTERM, SIGPWR]
        return candidates.first { handled & (1 << UInt64($0 - 1)) != 0 }
    }
}
