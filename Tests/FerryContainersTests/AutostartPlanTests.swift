import FerryContainers
import Testing

/// The rule `ferry autostart` follows for each container, from what its root holds.
@Suite struct AutostartPlanTests {
    func facts(_ name: String, _ state: String, _ change: (inout AutostartPlan.Facts) -> Void = { _ in }) throws -> AutostartPlan.Facts {
        var facts = AutostartPlan.Facts(name: try ContainerName(name), state: state)
        change(&facts)
        return facts
    }

    @Test func eachStateGetsItsAction() throws {
        let plan = AutostartPlan([
            try facts("a", "stopped"),
            try facts("b", "crashed"),
            try facts("c", "stopped") { $0.unusedCheckpoint = true },
            try facts("d", "running") { $0.pid = 42 },
            try facts("e", "stopped") { $0.arriving = true },
            try facts("f", "stopped") { $0.leaving = true; $0.unusedCheckpoint = true },
            try facts("g", "unreadable") { $0.problem = "run.json is unreadable" },
            try facts("h", "running") { $0.pid = 7; $0.leaving = true },
        ])
        let actions = plan.rows.map(\.action)
        #expect(actions[0] == .start)
        #expect(actions[1] == .start)
        #expect(actions[2] == .restore)
        #expect(actions[3] == .running(pid: 42))
        guard case .skip = actions[4] else { Issue.record("an arriving copy was not skipped: \(actions[4])"); return }
        guard case .refuse(let reason) = actions[5], reason.contains("ferry recover f") else { Issue.record("\(actions[5])"); return }
        #expect(actions[6] == .refuse(reason: "run.json is unreadable"))
        guard case .refuse = actions[7] else { Issue.record("a leaving container was not refused: \(actions[7])"); return }
    }
}
