import FerryContainers
import FerryMigration
import FerrySystem
import Foundation
import Synchronization

/// A migration's events for an admin, on stderr: each phase in words, the frozen window
/// marked where it starts and where it ends, and one progress line (bytes, rate, time left)
/// for the transfers under way — rewritten in place on a terminal, a plain line every few
/// seconds otherwise, so a log file gets a readable trace rather than rsync's carriage
/// returns. While frozen, the files' sync and the memory's stream run at once: the line
/// shows both. Events arrive from the transfers' threads too, hence the lock. The summary
/// goes to stdout, as the command's result.
final class MigrationConsole: Sendable {
    private let terminal: Bool
    private let state = Mutex(State())

    private struct State {
        /// A progress line stands unfinished on the terminal.
        var progressShown = false
        /// When the last plain progress line was written.
        var lastPlainProgress: Double?
        /// The newest progress of each transfer under way in this phase.
        var transfers: [MigrationEvent.TransferKind: TransferProgress] = [:]
    }

    /// Off a terminal, at most one progress line in this many seconds.
    static let plainProgressInterval = 2.0

    init(terminal: Bool) {
        self.terminal = terminal
    }

    func receive(_ event: MigrationEvent) {
        switch event {
        case .phaseStarted(let step):
            state.withLock { $0.transfers = [:] }
            line("» \(step.words)")
        case .phaseEnded: break
        case .frozenStarted: line("■ frozen from here: the container runs nowhere until its copy on the target starts")
        case .frozenEnded(let seconds): line(String(format: "■ frozen window over: the container runs on the target (frozen %.3f s)", seconds))
        case .transfer(let kind, let progress): progressLine(kind, progress)
        case .summary(let summary):
            line(nil)
            printLine(MigrationText.summary(summary))
        }
    }

    /// A line of its own (nil: only end a standing progress line).
    private func line(_ text: String?) {
        state.withLock { state in
            var output = ""
            if state.progressShown { output += "\r\u{1B}[K" }
            state.progressShown = false
            if let text { output += text + "\n" }
            FileOutput.standardError.write(output)
        }
    }

    private func progressLine(_ kind: MigrationEvent.TransferKind, _ progress: TransferProgress) {
        state.withLock { state in
            state.transfers[kind] = progress
            let text = state.transfers.sorted { $0.key.rawValue < $1.key.rawValue }.map { Self.progress($0.key, $0.value) }
                .joined(separator: " · ")
            if terminal {
                FileOutput.standardError.write("\r\u{1B}[K  \(text)")
                state.progressShown = true
                return
            }
            let now = Monotonic.now
            if let last = state.lastPlainProgress, now - last < Self.plainProgressInterval { return }
            state.lastPlainProgress = now
            FileOutput.standardError.write("  \(text)\n")
        }
    }

    /// `images: 48.0 MiB of 64.0 MiB (75%), 120.3 MiB/s, 0:01 left`.
    static func progress(_ kind: MigrationEvent.TransferKind, _ progress: TransferProgress) -> String {
        var text = "\(kind.rawValue): \(ByteSize.readable(progress.bytes))"
        if let total = progress.totalBytes, total > 0 {
            text += " of \(ByteSize.readable(total)) (\(min(100, progress.bytes * 100 / total))%)"
        }
        if let rate = progress.bytesPerSecond { text += ", \(ByteSize.readable(Int(rate)))/s" }
        if let left = progress.secondsLeft { text += ", \(duration(left)) left" }
        return text
    }

    /// `M:SS`, or `H:MM:SS` from an hour on.
    static func duration(_ seconds: Double) -> String {
        let whole = Int(seconds.rounded())
        let (hours, minutes, rest) = (whole / 3600, whole / 60 % 60, whole % 60)
        return hours > 0 ? String(format: "%d:%02d:%02d", hours, minutes, rest) : String(format: "%d:%02d", minutes, rest)
    }
}
