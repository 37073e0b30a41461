import FerryContainers
import FerryErrors
import FerryMounts

/// Everything decided before a container is frozen: its mount tree, the verdict on each
/// mount, what CRIU gets as externals, and what blocks the checkpoint — a mount, or a
/// process CRIU cannot carry on this host.
///
/// `ferry mounts`, `ferry checkpoint` and `ferry migrate` all build this one value, so the
/// pre-flight report and the checkpoint can never disagree.
public struct CheckpointPlan: Sendable {
    public let capture: MountTreeCapture
    public let report: MountReport
    public let externals: [CheckpointManifest.ExternalMount]
    public let processBlockers: [ProcessBlocker]

    /// A plan from a capture and the processes' facts (pure: what unit tests build).
    public init(capture: MountTreeCapture, config: ContainerConfig, processes: [ProcessFacts] = [], hostHasSysResource: Bool = true) {
        self.capture = capture
        report = MountReport(capture)
        externals = ExternalMountPlan.plan(for: capture, config: config)
        let initUTS = processes.first { $0.containerPid == 1 }?.utsNamespace
        processBlockers = ProcessRules.blockers(processes, initUTS: initUTS, hostHasSysResource: hostHasSysResource)
            + ShareHardCases.blockers(processes, shares: ShareHardCases.Shares(capture))
    }

    /// Captures the running container's mounts and processes and plans from them.
    public init(runtime: ContainerRuntime, state: RuntimeState) throws(FerryError) {
        let capture = try MountCapturer(runtime: runtime, state: state).capture()
        // A placeholder is never looked into: a stat there waits for its share.
        let placeholders = Set(capture.namespaces.flatMap { $0.mounts.filter { $0.fsType == SharePlaceholder.fsType }.map(\.id) })
        let shareMounts = ShareHardCases.Shares(capture).mountIDs.subtracting(placeholders)
        let processes = capture.hostPids.compactMap { ProcessFacts.read(hostPid: $0, lookingInto: shareMounts) }
        // In a `--userns` container the host's root owns the tasks' user namespace, which
        // gives CRIU every capability over them whatever its bounding set (measured:
        // docs/probes/userns.md, 4): their ids need no CAP_SYS_RESOURCE on the host.
        let readsAnyRlimits = ProcessRules.hostHasSysResource || runtime.config.userNamespace != nil
        self.init(capture: capture, config: runtime.config, processes: processes, hostHasSysResource: readsAnyRlimits)
    }

    public var blockers: [MountReport.Entry] { report.blocked }

    /// Throws the one refusal every command gives: each blocked mount and process with its
    /// reason, and where to look.
    public func refuseIfBlocked(_ action: String, _ name: ContainerName) throws(FerryError) {
        let list = blockers.map { "\($0.mountPoint) (\($0.fsType)): \($0.verdict.reason ?? "blocked")" }
            + processBlockers.map { "process \($0.pid) (\($0.command)) \($0.reason)" }
        guard !list.isEmpty else { return }
        throw FerryError(.invalidState, "cannot \(action) \(name): \(list.joined(separator: "; ")); see 'ferry mounts \(name)'")
    }

    /// What `ferry mounts --json` prints.
    public struct Report: Sendable, Codable {
        public var entries: [MountReport.Entry]
        public var processBlockers: [ProcessBlocker]
        /// No mount and no process blocks a checkpoint: the verdict `ferry mounts` ends with.
        public var migratable: Bool
    }

    public var printable: Report {
        Report(entries: report.entries, processBlockers: processBlockers, migratable: blockers.isEmpty && processBlockers.isEmpty)
    }

    /// `--external` values for CRIU's dump.
    public var dumpExternals: [String] { ExternalMountPlan.dumpArguments(externals) }
}
