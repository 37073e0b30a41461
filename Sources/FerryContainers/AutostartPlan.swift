import FerryErrors
import Glibc

/// What `ferry autostart` does with each autostart container of a state root, decided
/// once from what the root holds, so the report says what happens.
///
/// An admin runs it at boot (contrib/ferry-autostart.service): a container that was
/// checkpointed and never restored resumes from its checkpoint, as vzctl resumes a
/// suspended container at boot (starting it afresh would drop the state that was kept on
/// purpose; `start` refuses that too); every other stopped or crashed one boots.
public struct AutostartPlan: Sendable {
    public enum Action: Sendable, Equatable {
        case start
        /// The default checkpoint, never restored.
        case restore
        /// Nothing to do.
        case running(pid: Int32)
        /// Not this host's to start yet (a migration brings it here; its source decides).
        case skip(reason: String)
        /// The admin must act first; counts as a failure.
        case refuse(reason: String)
    }

    /// What the root says of one container.
    public struct Facts: Sendable {
        public var name: ContainerName
        /// The init's pid while it runs.
        public var runningPid: Int32?
        public var unusedCheckpoint: Bool
        public var leaving: Bool
        public var arriving: Bool
        /// Why its config or run state cannot be read.
        public var problem: String?

        public init(
            name: ContainerName, runningPid: Int32? = nil, unusedCheckpoint: Bool = false, leaving: Bool = false, arriving: Bool = false,
            problem: String? = nil
        ) {
            self.name = name
            self.runningPid = runningPid
            self.unusedCheckpoint = unusedCheckpoint
            self.leaving = leaving
            self.arriving = arriving
            self.problem = problem
        }
    }

    public var rows: [(name: ContainerName, action: Action)]

    public init(_ facts: [Facts]) {
        rows = facts.map { ($0.name, Self.decide($0)) }
    }

    /// The rule for one container. A migration's marks come first: a container leaving
    /// (journal here) may run on the target already, and one arriving (lease mark) runs
    /// only when its source commits; starting either could make two copies.
    static func decide(_ facts: Facts) -> Action {
        let name = facts.name
        if facts.leaving {
            return .refuse(reason: "an unfinished migration; 'ferry recover \(name)' finishes or undoes it")
        }
        if facts.arriving { return .skip(reason: "arriving by migration; its source commits or aborts it") }
        if let pid = facts.runningPid { return .running(pid: pid) }
        if let problem = facts.problem { return .refuse(reason: problem) }
        return facts.unusedCheckpoint ? .restore : .start
    }
}

extension ContainerManager {
    /// The plan for every container of this root created or set with autostart, by name.
    public func autostartPlan() -> AutostartPlan {
        AutostartPlan(
            root.containerNames().compactMap { (name) -> AutostartPlan.Facts? in
                let runtime: ContainerRuntime
                do throws(FerryError) {
                    runtime = try self.runtime(name)
                } catch {
                    // Whether it should start is unknown: the admin hears of it.
                    return AutostartPlan.Facts(name: name, problem: error.message)
                }
                guard runtime.config.startsAtBoot else { return nil }
                var facts = AutostartPlan.Facts(name: name)
                switch runtime.loadState() {
                case .running(let state): facts.runningPid = state.initPid
                case .unreadable(let error): facts.problem = error.message
                case .stopped, .crashed: break
                }
                if case .unused = CheckpointUse.state(of: runtime.layout.checkpoint) { facts.unusedCheckpoint = true }
                facts.leaving = access(root.migrationJournal(of: name), F_OK) == 0
                facts.arriving = MigrationLease.read(runtime.layout) != nil
                return facts
            })
    }
}
