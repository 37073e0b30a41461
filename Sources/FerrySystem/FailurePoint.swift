import FerryErrors
import Foundation
import Glibc

/// FERRY_FAIL_AT=<point>: a test makes Ferry fail at a named point (an error), and
/// FERRY_FAIL_AT=<point>:kill makes it die there (kill -9 of itself), to prove what each
/// undo and each recovery does. FERRY_FAIL_AT=<point>:hold stops ferry there (SIGSTOP) so
/// that a test can inject a fault from outside at a moment too short to catch otherwise,
/// then let it go on (SIGCONT). Several, comma-separated, strike each at its point (a fault
/// and a hold to look at what it did). Unset, a point costs one environment lookup.
public enum FailurePoint {
    public static func check(_ point: String) throws(FerryError) {
        for value in values { try check(point, value) }
    }

    private static var values: [Substring] {
        (ProcessInfo.processInfo.environment["FERRY_FAIL_AT"] ?? "").split(separator: ",")
    }

    private static func check(_ point: String, _ value: Substring) throws(FerryError) {
        if value == point {
            throw FerryError(.commandFailed, "\(point) failed (injected by FERRY_FAIL_AT)")
        }
        if value == "\(point):kill" {
            kill(getpid(), SIGKILL)
        }
        if value == "\(point):hold" {
            kill(getpid(), SIGSTOP)
            // A signal sent while ferry was stopped may be handled on another thread a
            // moment after this one runs on: it is waited for (0.2 s at most), so the step
            // held is the step that sees it.
            let deadline = Monotonic.now + 0.2
            while Interruption.signal == nil, Monotonic.now < deadline { usleep(1000) }
        }
    }
}

extension FailurePoint {
    /// Whether FERRY_FAIL_AT names exactly `point:action`: a damage only the code itself can
    /// do at the right byte (the image stream's corruption after its MAC, its truncation).
    public static func asks(_ point: String, _ action: String) -> Bool {
        values.contains { $0 == "\(point):\(action)" }
    }
}
