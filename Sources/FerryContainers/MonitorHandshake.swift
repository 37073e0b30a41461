import FerryErrors
import FerrySystem
import Glibc

/// The one line a container monitor writes to whoever launched it, on a pipe the launcher
/// reads to its end: the init is running (its host pid), or why it is not. The monitor then
/// closes the pipe and stays; a monitor that dies first leaves the pipe empty.
public enum MonitorHandshake: Equatable, Sendable {
    case started(initPid: pid_t)
    case failed(String)

    /// The line on the pipe.
    public var line: String {
        switch self {
        case .started(let pid): "ok \(pid)\n"
        case .failed(let message): "error \(message.split(separator: "\n").joined(separator: " "))\n"
        }
    }

    /// Reads what the monitor wrote; nil for nothing (or nothing Ferry wrote).
    public init?(parsing text: String) {
        let line = text.trimmingNewline
        if line.hasPrefix("ok "), let pid = pid_t(line.dropFirst(3)), pid > 0 {
            self = .started(initPid: pid)
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
