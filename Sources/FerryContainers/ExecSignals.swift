import FerryErrors
import FerrySystem
import Glibc

/// What `ferry exec` does with the signals it receives while its command runs.
///
/// SIGTERM, SIGHUP and SIGINT end the command inside the container: every process of its
/// session gets the signal, then SIGKILL when any is left `grace` seconds later. Without
/// this ferry died alone, and the command ran on inside with its helper waiting on the
/// host. A terminal session gets SIGHUP whichever came, as when a terminal hangs up: an
/// interactive shell ignores SIGTERM and SIGINT but ends at a hang-up, and passes it on to
/// its jobs. SIGWINCH copies the admin's window size to the command's terminal again (the
/// kernel then sends the command its own SIGWINCH).
final class ExecSignals {
    /// How long the command's processes have to end after the signal before SIGKILL.
    static let grace: Double = 5

    private let pipe: SignalPipe
    private let terminal: (pty: PseudoTerminal, windowSource: Int32)?
    private var session: ProcessSession?
    private var killAt: Double?
    private var ending = false

    /// Catches the signals from now on; `terminal` is the command's pty and the admin's
    /// descriptor whose window size it follows, nil for a session on pipes.
    init(terminal: (pty: PseudoTerminal, windowSource: Int32)?) throws(FerryError) {
        pipe = try SignalPipe(catching: [SIGTERM, SIGHUP, SIGINT] + (terminal == nil ? [] : [SIGWINCH]))
        self.terminal = terminal
    }

    /// The command's session, once its helper has reported it (nil when it failed before).
    func follow(_ session: ProcessSession?) {
        self.session = session
    }

    /// For the relay's poll set.
    var pollEntry: pollfd { pollfd(fd: pipe.descriptor, events: Int16(POLLIN), revents: 0) }

    /// How long the relay's poll may wait: until the kill is due, without limit otherwise.
    var pollTimeout: Double? { killAt.map { max(0, $0 - Monotonic.now) } }

    /// Acts on what arrived and on a kill that is due; the relay calls it after each poll.
    func service() {
        for number in pipe.received() {
            if number == SIGWINCH {
                if let terminal { terminal.pty.copyWindowSize(from: terminal.windowSource) }
                continue
            }
            guard let session else { continue }
            session.signal(terminal == nil ? number : SIGHUP)
            if !ending { killAt = Monotonic.now + Self.grace }
            ending = true
        }
        if let due = killAt, Monotonic.now >= due {
            session?.kill()
            killAt = nil
        }
    }

    /// Once the command's leader has exited: after a signal, waits for the rest of its
    /// session (background jobs, a pipeline's other members) and kills what is left when
    /// the grace runs out, so that nothing of it stays inside. A command that simply
    /// finished keeps its background jobs, as a shell's do. The signals get their default
    /// action back.
    func finish() {
        defer { pipe.release() }
        guard ending, let session else { return }
        if let due = killAt, session.waitUntilEmpty(deadline: due) { return }
        session.kill()
        _ = session.waitUntilEmpty(deadline: Monotonic.now + Self.grace)
    }
}
