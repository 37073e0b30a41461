import FerrySystem
import Foundation
import Glibc

/// Which signal asks an init to shut down, or nil when it would ignore every one.
///
/// A signal from outside a pid namespace reaches its init only if the init handles it: it
/// catches it (SigCgt), or blocks it to read it from a signalfd (SigBlk), as systemd does.
/// Ferry reads both masks instead of waiting in vain.
enum ShutdownSignal {
    static func choose(for pid: pid_t) -> Int32? {
        guard let status = ProcFS.Status(of: "\(pid)") else { return nil }
        let handled = status.mask("SigCgt") | status.mask("SigBlk")
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe")) ?? ""
        // systemd halts on SIGRTMIN+3; SIGTERM would make it re-execute itself.
        let candidates: [Int32] = executable.hasSuffix("/systemd") ? [Signal.realtimeMinimum + 3] : [SIGTERM, SIGPWR]
        return candidates.first { handled & (1 << UInt64($0 - 1)) != 0 }
    }
}
