import FerryErrors
import FerrySystem
import Glibc

/// The one line a container monitor writes to whoever launched it, on a pipe the launcher
/// reads to its end: the init is running (its host pid), it ran but exited at once (its
/// status; its last words are in the console log), or why it never ran. The monitor then
/// closes the pipe and stays; a monitor that dies first leaves the pipe empty.
public enum MonitorHandshake: Equatable, Sendable {
    case started(initPid: pid_t)
    case exited(status: Int32)
    case failed(String)

    /// The line on the pipe.
    public var line: String {
        switch self {
        case .started(let pid): "ok \(pid)\n"
        case .exited(let status): "exited \(status)\n"
        case .failed(let message): "error \(message.split(separator: "\n").joined(separator: " "))\n"
        }
    }

    /// Reads what the monitor wrote; nil for nothing (or nothing Ferry wrote).
    public init?(parsing text: String) {
        let line = text.trimmingNewline
        if line.hasPrefix("ok "), let pid = pid_t(line.dropFirst(3)), pid > 0 {
            self = .started(initPid: pid)
        } else if line.hasPrefix("exited "), let status = Int32(line.dropFirst(7)) {
            self = .exited(status: status)
        } else if line.hasPrefix("error ") {
            self = .failed(String(line.dropFirst(6)))
        } else {
            return nil
        }
    }

    /// Monitor side: says it once and closes the pipe.
    func send(on pipe: OwnedFileDescriptor) {
        try? pipe.write(line)
        pipe.close()
    }
}
