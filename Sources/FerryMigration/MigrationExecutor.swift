import FerryErrors
import FerrySystem
import Foundation
import Logging

/// One row of a migration's step table: the step, the undo it leaves in the journal before
/// it acts, and the action. A new step is a new row (and a `MigrationStep` case).
struct StepRow<Context> {
    var step: MigrationStep
    /// What takes this step back, decided from the context just before it acts; nil when the
    /// step changes nothing that needs undoing.
    var undo: (Context) -> MigrationJournal.UndoAction?
    /// The point of no return: the journal is marked committed (durably) just before it acts,
    /// so from then on recovery finishes the migration instead of undoing it.
    var commits = false
    var act: (inout Context) throws(FerryError) -> Void
}

/// Runs a table of steps in order against a context, and takes them back.
///
/// Each row's undo is appended to the journal and saved *before* the row acts; then
/// FERRY_FAIL_AT may strike; then the row acts and is timed. Whatever fails (an error, a
/// kill -9 of ferry), the journal holds every undo of every step that may have changed
/// something, and `rollBack` runs them backwards.
///
/// An interruption (see `Interruption`) stops the table before its next step, or fails the
/// step whose helper it ended, as `.interrupted`: the caller rolls back as for any failure.
/// From the committing step on, a signal is only recorded and the table runs to its end.
struct MigrationExecutor {
    private(set) var journal: MigrationJournal
    /// Persists the journal (a no-op for a dry run, which must leave nothing behind).
    let save: (MigrationJournal) throws(FerryError) -> Void
    /// Called with each step after its undo is saved, before it acts (failure injection).
    let strike: (MigrationStep) throws(FerryError) -> Void
    /// Called after a committing step's mark is saved, before it acts.
    let strikeCommitted: (MigrationStep) throws(FerryError) -> Void
    let logger: Logger
    private(set) var phases: [MigrationSummary.Phase] = []

    init(
        journal: MigrationJournal, logger: Logger, save: @escaping (MigrationJournal) throws(FerryError) -> Void,
        strike: @escaping (MigrationStep) throws(FerryError) -> Void = FailureInjection.check,
        strikeCommitted: @escaping (MigrationStep) throws(FerryError) -> Void = FailureInjection.checkCommitted
    ) {
        self.journal = journal
        self.logger = logger
        self.save = save
        self.strike = strike
        self.strikeCommitted = strikeCommitted
    }

    /// Runs `rows` in order; `report` hears each step begin and end.
    mutating func run<Context>(
        _ rows: [StepRow<Context>], on context: inout Context, report: (MigrationEvent) -> Void = { _ in }
    ) throws(FerryError) {
        for row in rows {
            let started = Monotonic.now
            report(.phaseStarted(row.step))
            if let undo = row.undo(context) { journal.undo.append(undo) }
            try save(journal)
            try strike(row.step)
            try Interruption.check(before: row.step.rawValue)
            if row.commits {
                Interruption.setCancelling(false)
                journal.committed = true
                try save(journal)
                try strikeCommitted(row.step)
            }
            do throws(FerryError) {
                try row.act(&context)
            } catch {
                logger.warning("step failed", metadata: ["step": "\(row.step.rawValue)", "error": "\(error.message)"])
                if !journal.committed, let signal = Interruption.signal {
                    throw Interruption.error(signal, during: row.step.rawValue, cause: error)
                }
                throw error
            }
            let seconds = Monotonic.now - started
            phases.append(.init(step: row.step.rawValue, seconds: seconds, frozen: false))
            report(.phaseEnded(row.step, seconds: seconds))
            logger.info("step done", metadata: ["step": "\(row.step.rawValue)", "seconds": "\(String(format: "%.3f", seconds))"])
        }
    }

    /// Runs the recorded undos backwards, each once; returns what could not be undone (and
    /// logs it). Undos that failed stay in the journal, so a later `ferry recover` retries
    /// exactly those.
    mutating func rollBack(_ undo: (MigrationJournal.UndoAction) throws(FerryError) -> Void) -> [String] {
        // The rollback's own ssh and rsync must finish, whatever signal comes now.
        Interruption.setCancelling(false)
        var problems: [String] = []
        var left: [MigrationJournal.UndoAction] = []
        for action in journal.undo.reversed() {
            let started = Monotonic.now
            do throws(FerryError) {
                try undo(action)
                logger.info("undone", metadata: ["undo": "\(action)", "seconds": "\(String(format: "%.3f", Monotonic.now - started))"])
            } catch {
                logger.error("undo failed", metadata: ["undo": "\(action)", "error": "\(error.message)"])
                problems.append("\(action): \(error.message)")
                left.insert(action, at: 0)
            }
        }
        journal.undo = left
        if !problems.isEmpty { try? save(journal) }
        return problems
    }
}
