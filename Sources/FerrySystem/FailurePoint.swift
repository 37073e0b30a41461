import FerryErrors
import Foundation
import Glibc

/// FERRY_FAIL_AT=<point>: a test makes Ferry fail at a named point (an error), and
/// FERRY_FAIL_AT=<point>:kill makes it die there (kill -9 of itself), to prove what each
/// undo and each recovery does. FERRY_FAIL_AT=<point>:hold stops ferry there (SIGSTOP) so
/// that a test can inject a fault from outside at a moment too short to catch otherwise,
/// then let it go on (SIGCONT). Unset, a point costs one environment lookup.
public enum FailurePoint {
    public static func check(_ point: String) throws(FerryError) {
        guard let value = ProcessInfo.processInfo.environment["FERRY_FAIL_AT"] else { return }
        if value == point {
            throw FerryError(.commandFailed, "\(point) failed (injected by FERRY_FAIL_AT)")
        }
        if value == "\(point):kill" {
            kill(getpid(), SIGKILL)
        }
        if value == "\(point):hold" {
            kill(getpid(), SIGSTOP)
        }
    }
}
