import FerryContainers
import FerryErrors
import FerryMounts

/// Everything decided before a container is frozen: its mount tree, the verdict on each
/// mount, what CRIU gets as externals, and what blocks the checkpoint.
///
/// `ferry mounts`, `ferry checkpoint` and `ferry migrate` all build this one value, so the
/// pre-flight report and the checkpoint can never disagree.
public struct CheckpointPlan: Sendable {
    public let capture: MountTreeCapture
    public let report: MountReport
    public let externals: [CheckpointManifest.ExternalMount]

    /// A plan from a capture (pure: what unit tests build).
    public init(capture: MountTreeCapture, config: ContainerConfig) {
        self.capture = capture
        report = MountReport(capture)
        externals = ExternalMountPlan.plan(for: capture, config: config)
    }

    /// Captures the running container's mounts and plans from them.
    public init(runtime: ContainerRuntime) throws(FerryError) {
        self.init(capture: try MountCapturer(runtime: runtime).capture(), config: runtime.config)
    }

    public var blockers: [MountReport.Entry] { report.blocked }

    /// Throws the one refusal every command gives for a blocked mount: each blocked mount
    /// with its reason, and where to look.
    public func refuseIfBlocked(_ action: String, _ name: ContainerName) throws(FerryError) {
        guard !blockers.isEmpty else { return }
        let list = blockers.map { "\($0.mountPoint) (\($0.fsType)): \($0.verdict.reason ?? "blocked")" }.joined(separator: "; ")
        throw FerryError(.invalidState, "cannot \(action) \(name): \(list); see 'ferry mounts \(name)'")
    }

    /// `--external` values for CRIU's dump.
    public var dumpExternals: [String] { ExternalMountPlan.dumpArguments(externals) }
}
