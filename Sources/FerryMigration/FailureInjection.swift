import FerryErrors
import FerrySystem

/// FERRY_FAIL_AT=<step>: make that step fail just before it acts (after its undo is
/// recorded), to test every undo path. FERRY_FAIL_AT=<step>:kill kills ferry itself there.
/// For the committing step, `<step>:committed` and `<step>:committed:kill` strike after
/// the commit mark is saved and before the target hears of it: the moment `ferry recover`
/// must ask the target about.
enum FailureInjection {
    static func check(_ step: MigrationStep) throws(FerryError) {
        do throws(FerryError) {
            try FailurePoint.check(step.rawValue)
        } catch {
            throw FerryError(.commandFailed, "step \(step.rawValue) failed (injected by FERRY_FAIL_AT)")
        }
    }

    static func checkCommitted(_ step: MigrationStep) throws(FerryError) {
        try FailurePoint.check("\(step.rawValue):committed")
    }
}
