import FerryErrors

/// Whether a container runs, loaded once per operation (`ContainerRuntime.loadState()`),
/// with what each answer knows.
///
/// A run.json that cannot be read is a state of its own, never "stopped": Ferry then
/// cannot tell whether an init runs, and a start would clone a second one into the same
/// rootfs. Every operation refuses it with the error it carries.
public enum ContainerState: Sendable {
    /// No run.json: nothing of the container runs.
    case stopped
    /// The recorded init is alive.
    case running(RuntimeState)
    /// run.json names an init that is gone, and no monitor cleaned up after it.
    case crashed(RuntimeState)
    /// run.json exists but does not load; the error names the file and the fix.
    case unreadable(FerryError)

    /// The word `ferry list` and `ferry status` print (and `--json` writes as `status`).
    public var label: String {
        switch self {
        case .stopped: "stopped"
        case .running: "running"
        case .crashed: "crashed"
        case .unreadable: "unreadable"
        }
    }

    /// The running init's record, for an operation that needs one; otherwise the refusal:
    /// `.invalidState` naming the container and `advice`, or the unreadable state's error.
    public func requireRunning(_ name: ContainerName, _ advice: String) throws(FerryError) -> RuntimeState {
        switch self {
        case .running(let state): return state
        case .unreadable(let error): throw error
        case .stopped, .crashed: throw FerryError(.invalidState, "container \(name) is not running; \(advice)")
        }
    }
}
