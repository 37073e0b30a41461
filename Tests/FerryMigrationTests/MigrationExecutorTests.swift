import FerryContainers
import FerryErrors
import FerrySystem
import Foundation
import Logging
import Testing

@testable import FerryMigration

/// A target that answers from a script and remembers what it was asked.
final class FakeAgent: AgentCalling {
    var calls: [String] = []
    var failing: Set<String> = []
    var isBroken = false

    func call(_ operation: AgentRequest.Operation, within seconds: Double?) throws(FerryError) -> AgentResponse {
        calls.append(operation.name)
        if failing.contains(operation.name) {
            throw AgentResponse.Failure(FerryError(.commandFailed, "\(operation.name) refused")).error(on: "fake")
        }
        return .success()
    }
}

/// What the steps of a test migration touch.
struct FakeRun {
    let agent: FakeAgent
    var acted: [MigrationStep] = []
    /// The journal's undos as saved when each step acted.
    var savedWhenActing: [MigrationStep: [MigrationJournal.UndoAction]] = [:]
}

/// The executor over a table of rows, with a fake agent channel: undos are saved before
/// their step acts, failures roll back in reverse, a failed undo stays for `recover`.
@Suite struct MigrationExecutorTests {
    static func journal() -> MigrationJournal {
        MigrationJournal(
            container: "web", target: SSHTarget(destination: "h2", configFile: nil), remoteFerry: "ferry", imagesDirectory: "/tmp/none",
            dumpDevice: nil, undo: [])
    }

    final class Saved {
        var journals: [MigrationJournal] = []
    }

    static func rows(failAt: MigrationStep? = nil, saved: Saved) -> [StepRow<FakeRun>] {
        func row(_ step: MigrationStep, _ undo: MigrationJournal.UndoAction?, commits: Bool = false, _ call: AgentRequest.Operation? = nil)
            -> StepRow<FakeRun>
        {
            StepRow(step: step, undo: { _ in undo }, commits: commits) { (run) throws(FerryError) in
                run.acted.append(step)
                run.savedWhenActing[step] = saved.journals.last?.undo ?? []
                if let call { _ = try run.agent.call(call) }
                if step == failAt { throw FerryError(.commandFailed, "\(step.rawValue) broke") }
            }
        }
        return [
            row(.connect, nil), row(.checkTarget, nil, .hello(.init(container: "web", neededBytes: 1, sharedStorage: nil))),
            row(.prepareTarget, .abortTarget, .prepare(.init(config: "{}"))), row(.presync, nil),
            row(.checkpoint, .restoreSource), row(.finalSync, nil), row(.sendImages, nil),
            row(.restoreTarget, .abortTarget, .restore(.init(container: "web", keepImages: false, dumpDevice: nil))),
            row(.finishSource, nil, commits: true, .commit(container: "web")),
        ]
    }

    static func executor(_ saved: Saved, strike: @escaping (MigrationStep) throws(FerryError) -> Void = { _ in }) -> MigrationExecutor {
        MigrationExecutor(journal: journal(), logger: Logger(label: "test"), save: { (journal) throws(FerryError) in saved.journals.append(journal) }, strike: strike,
            strikeCommitted: { _ in })
    }

    @Test func everyStepRunsInOrderAndIsTimed() throws {
        let saved = Saved()
        var executor = Self.executor(saved)
        var run = FakeRun(agent: FakeAgent())
        try executor.run(Self.rows(saved: saved), on: &run)
        #expect(run.acted == MigrationStep.online.filter { $0 != .mountSource })
        #expect(executor.phases.map(\.step) == run.acted.map(\.rawValue))
        #expect(run.agent.calls == ["hello", "prepare", "restore", "commit"])
        #expect(executor.journal.committed)
        #expect(saved.journals.last?.committed == true, "the commit mark was saved before finish-source acted")
    }

    /// Each step is reported as it begins and as it ends; a step that fails has no end.
    @Test func eachStepIsReportedStartedAndEnded() throws {
        let saved = Saved()
        var executor = Self.executor(saved)
        var run = FakeRun(agent: FakeAgent())
        var events: [MigrationEvent] = []
        #expect(throws: FerryError.self) {
            try executor.run(Self.rows(failAt: .sendImages, saved: saved), on: &run) { events.append($0) }
        }
        var expected: [String] = []
        for step in run.acted {
            expected.append("started \(step.rawValue)")
            if step != .sendImages { expected.append("ended \(step.rawValue)") }
        }
        let seen = events.map { event -> String in
            switch event {
            case .phaseStarted(let step): "started \(step.rawValue)"
            case .phaseEnded(let step, _): "ended \(step.rawValue)"
            default: "\(event.type)"
            }
        }
        #expect(seen == expected)
    }

    @Test func eachUndoIsSavedBeforeItsStepActs() throws {
        let saved = Saved()
        var executor = Self.executor(saved)
        var run = FakeRun(agent: FakeAgent())
        try executor.run(Self.rows(saved: saved), on: &run)
        #expect(run.savedWhenActing[.prepareTarget] == [.abortTarget])
        #expect(run.savedWhenActing[.checkpoint] == [.abortTarget, .restoreSource])
        #expect(run.savedWhenActing[.restoreTarget] == [.abortTarget, .restoreSource, .abortTarget])
    }

    @Test(arguments: [MigrationStep.prepareTarget, .checkpoint, .sendImages, .restoreTarget])
    func aFailureRollsBackWhatRanInReverse(_ failing: MigrationStep) throws {
        let saved = Saved()
        var executor = Self.executor(saved)
        var run = FakeRun(agent: FakeAgent())
        #expect(throws: FerryError.self) { try executor.run(Self.rows(failAt: failing, saved: saved), on: &run) }
        #expect(run.acted.last == failing)
        var undone: [MigrationJournal.UndoAction] = []
        let problems = executor.rollBack { (action) throws(FerryError) in
            undone.append(action)
            if action == .abortTarget { _ = try run.agent.call(.abort(container: "web")) }
        }
        #expect(problems.isEmpty)
        let expected: [MigrationJournal.UndoAction] =
            switch failing {
            case .prepareTarget: [.abortTarget]
            case .checkpoint, .sendImages: [.restoreSource, .abortTarget]
            default: [.abortTarget, .restoreSource, .abortTarget]
            }
        #expect(undone == expected)
        #expect(run.agent.calls.last == "abort")
        #expect(executor.journal.undo.isEmpty)
    }

    @Test func anInjectedFailureStrikesAfterTheUndoIsSavedAndBeforeTheStepActs() throws {
        let saved = Saved()
        var executor = Self.executor(saved) { (step) throws(FerryError) in
            if step == .checkpoint { throw FerryError(.commandFailed, "injected") }
        }
        var run = FakeRun(agent: FakeAgent())
        #expect(throws: FerryError.self) { try executor.run(Self.rows(saved: saved), on: &run) }
        #expect(!run.acted.contains(.checkpoint))
        #expect(saved.journals.last?.undo == [.abortTarget, .restoreSource])
    }

    @Test func aFailureBeforeTheCommitMarkLeavesTheJournalUncommitted() throws {
        let saved = Saved()
        var executor = Self.executor(saved) { (step) throws(FerryError) in
            if step == .finishSource { throw FerryError(.commandFailed, "injected") }
        }
        var run = FakeRun(agent: FakeAgent())
        #expect(throws: FerryError.self) { try executor.run(Self.rows(saved: saved), on: &run) }
        #expect(!executor.journal.committed && saved.journals.last?.committed == false)
        #expect(!run.agent.calls.contains("commit"))
    }

    @Test func aFailedUndoStaysInTheJournalForRecover() throws {
        let saved = Saved()
        var executor = Self.executor(saved)
        let agent = FakeAgent()
        var run = FakeRun(agent: agent)
        #expect(throws: FerryError.self) { try executor.run(Self.rows(failAt: .sendImages, saved: saved), on: &run) }
        agent.failing = ["abort"]
        let problems = executor.rollBack { (action) throws(FerryError) in
            if action == .abortTarget { _ = try agent.call(.abort(container: "web")) }
        }
        #expect(problems.count == 1 && problems[0].contains("abort refused"), "\(problems)")
        #expect(executor.journal.undo == [.abortTarget])
        #expect(saved.journals.last?.undo == [.abortTarget], "the journal on disk names what is left")
        // A later recovery retries exactly that.
        agent.failing = []
        #expect(executor.rollBack { (action) throws(FerryError) in _ = try agent.call(.abort(container: "web")) }.isEmpty)
        #expect(executor.journal.undo.isEmpty)
    }
}
