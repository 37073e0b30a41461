import FerryErrors
import Glibc

/// The processes of one session, by its id (the host pid of the process that called
/// setsid): what `ferry exec` ends when it is told to stop, whatever the command forked,
/// piped or stopped meanwhile. A process that left for a session of its own (a daemon)
/// is no longer part of it.
public struct ProcessSession: Sendable {
    public let id: pid_t

    public init(id: pid_t) {
        self.id = id
    }

    /// The live members, each held by a pidfd that was opened before its session was read
    /// again: a pid that a new process took meanwhile is never signalled.
    public func members() -> [ProcessHandle] {
        ProcFS.sessionMembers(id).compactMap { pid in
            guard let handle = try? ProcessHandle(pid: pid), ProcFS.session(of: pid) == id else { return nil }
            return handle
        }
    }

    /// Sends `number` to every member, then SIGCONT: a stopped job (^Z) that handles the
    /// signal (a shell passing a hang-up on) acts on it only once it runs again.
    public func signal(_ number: Int32) {
        for member in members() {
            try? member.signal(number)
            try? member.signal(SIGCONT)
        }
    }

    /// Sends SIGKILL to every member.
    public func kill() {
        for member in members() { try? member.signal(SIGKILL) }
    }

    /// Waits until no member is left, at most until `deadline` (on `Monotonic`'s clock);
    /// returns whether none is.
    public func waitUntilEmpty(deadline: Double) -> Bool {
        while let member = members().first {
            let remaining = deadline - Monotonic.now
            guard remaining > 0 else { return false }
            _ = member.waitForExit(seconds: remaining)
        }
        return true
    }
}
