import FerryContainers
import Testing

/// The rule `ferry autostart` follows for each container, from what its root holds.
@Suite struct AutostartPlanTests {
    func facts(_ name: String, _ change: (inout AutostartPlan.Facts) -> Void = { _ in }) throws -> AutostartPlan.Facts {
        var facts = AutostartPlan.Facts(name: try ContainerName(name))
        change(&facts)
        return facts
    }

    @Test func eachStateGetsItsAction() throws {
        let plan = AutostartPlan([
            try facts("a"),
            try facts("c") { $0.unusedCheckpoint = true },
            try facts("d") { $0.runningPid = 42 },
            try facts("e") { $0.arriving = true },
            try facts("f") { $0.leaving = true; $0.unusedCheckpoint = true },
            try facts("g") { $0.problem = "run.json is unreadable" },
            try facts("h") { $0.runningPid = 7; $0.leaving = true },
        ])
        let actions = plan.rows.map(\.action)
        #expect(actions[0] == .start)
        #expect(actions[1] == .restore)
        #expect(actions[2] == .running(pid: 42))
        guard case .skip = actions[3] else { Issue.record("an arriving copy was not skipped: \(actions[3])"); return }
        guard case .refuse(let reason) = actions[4], reason.contains("ferry recover f") else { Issue.record("\(actions[4])"); return }
        #expect(actions[5] == .refuse(reason: "run.json is unreadable"))
        guard case .refuse = actions[6] else { Issue.record("a leaving container was not refused: \(actions[6])"); return }
    }
}
