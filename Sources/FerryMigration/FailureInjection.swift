import FerryErrors
import Foundation

/// FERRY_FAIL_AT=<step>: make that step fail just before it acts (after its undo is
/// recorded), to test every undo path. FERRY_FAIL_AT=<step>:kill kills ferry itself there.
enum FailureInjection {
    static func check(_ step: MigrationStep) throws(FerryError) {
        guard let value = ProcessInfo.processInfo.environment["FERRY_FAIL_AT"] else { return }
        if value == step.rawValue {
            throw FerryError(.commandFailed, "step \(step.rawValue) failed (injected by FERRY_FAIL_AT)")
        }
        if value == "\(step.rawValue):kill" {
            kill(getpid(), SIGKILL)
        }
    }
}
