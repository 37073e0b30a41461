import FerrySystem
import Foundation
import Testing

extension Integration.MigrationFaults {
    /// Ctrl-C, SIGTERM and SIGHUP to `ferry migrate` (to its whole process group, as a
    /// terminal sends them) roll the migration back: the source runs, the target is clean,
    /// no journal stays, and ferry says so and exits 128+signal.
    @Suite struct Interrupts {
        typealias Faults = Integration.MigrationFaults

        /// Sends `signal` to ferry's process group and waits for ferry to end; returns its
        /// exit status and output.
        static func interrupt(
            _ migrate: pid_t, with signal: Int32, output: String, resume: Bool = false
        ) throws -> (status: Int32?, text: String) {
            kill(-migrate, signal)
            if resume { kill(-migrate, SIGCONT) }
            var status: Int32?
            _ = try eventually(60) { status = Spawn.reapIfExited(migrate); return status != nil }
            if status == nil {
                kill(migrate, SIGKILL)
                _ = try? Spawn.wait(migrate)
            }
            return (status, (try? String(contentsOfFile: output, encoding: .utf8)) ?? "")
        }

        static func expectRolledBack(
            _ result: (status: Int32?, text: String), by signal: Int32, _ scene: Faults.Scene, _ what: String,
            sourceLocation: SourceLocation = #_sourceLocation
        ) throws {
            print("[interrupt] \(what): exit \(result.status ?? -1): \(result.text.split(separator: "\n").last ?? "")")
            #expect(result.status == 128 + signal, "\(what): exit \(result.status ?? -1): \(result.text)", sourceLocation: sourceLocation)
            #expect(
                result.text.contains("migration of \(scene.name) interrupted by \(Interruption.name(of: signal))")
                    && result.text.contains("rolled back") && result.text.contains("runs on the source and the target was cleaned"),
                "\(what): \(result.text)", sourceLocation: sourceLocation)
            try scene.expectRunsOnSourceAgain(countedAtLeast: 0, sourceLocation: sourceLocation)
            #expect(
                try eventually(15) { Faults.processes(mentioning: scene.hosts.directory, named: ["rsync", "ssh"]).isEmpty },
                "\(what): helpers outlived ferry", sourceLocation: sourceLocation)
        }

        /// Held at every online step (FERRY_FAIL_AT=<step>:hold), the signal comes while
        /// ferry is stopped there; SIGCONT lets it see it before the step acts.
        @Test func aSignalBeforeEveryStepRollsTheMigrationBack() throws {
            try Faults.scene("migrate-interrupt-steps", container: "ctrlc") { scene in
                let steps = try scene.a.run(["migrate", "--list-steps"]).stdout.split(separator: "\n").map(String.init)
                #expect(steps.count >= 10)
                let signals = [SIGINT, SIGTERM, SIGHUP]
                for (index, step) in steps.enumerated() {
                    let signal = signals[index % signals.count]
                    let (migrate, output) = try scene.startMigration(environment: ["FERRY_FAIL_AT": "\(step):hold"], ownGroup: true)
                    let held = try eventually(90) { Faults.processState(migrate) == "T" }
                    #expect(held, "\(step): ferry never stopped there: \((try? String(contentsOfFile: output, encoding: .utf8)) ?? "")")
                    let result = try Self.interrupt(migrate, with: signal, output: output, resume: true)
                    try Self.expectRolledBack(result, by: signal, scene, "\(step), \(Interruption.name(of: signal))")
                    #expect(result.text.contains("during \(step)"), "\(step): \(result.text)")
                }
                // The same container still migrates afterwards.
                #expect(try scene.a.migrate("ctrlc", to: 2).succeeded)
            }
        }

        /// Ctrl-C in the middle of the live copy: ferry ends the rsync (it no longer waits
        /// for a copy that is to be undone) and rolls back at once.
        @Test func aCtrlCDuringTheCopyEndsItAndRollsBack() throws {
            // 48 MiB that does not compress, over 16 Mbit/s: the pre-sync would last 25 s.
            try Faults.scene("migrate-interrupt-copy", container: "copy", prepare: Faults.ballast(48)) { scene in
                let unthrottle = try scene.throttle("16mbit")
                defer { unthrottle() }
                let (migrate, output) = try scene.startMigration(ownGroup: true)
                let copying = try eventually(60) { !Faults.processes(mentioning: scene.hosts.root(1), named: ["rsync"]).isEmpty }
                #expect(copying, "the copy never started: \((try? String(contentsOfFile: output, encoding: .utf8)) ?? "")")
                let sent = Date()
                let result = try Self.interrupt(migrate, with: SIGINT, output: output)
                let took = Date().timeIntervalSince(sent)
                print("[interrupt] ferry ended \(String(format: "%.1f", took)) s after Ctrl-C during the copy")
                #expect(took < 20, "ferry waited for the copy to finish (\(took) s)")
                try Self.expectRolledBack(result, by: SIGINT, scene, "copy")
                #expect(result.text.contains("during presync"), "\(result.text)")
            }
        }

        /// Ctrl-C while CRIU dumps: CRIU, in its own process group, finishes its dump (a dump
        /// killed half-way would leave the tree frozen), then the container is restored here.
        @Test func aCtrlCDuringTheDumpLetsCRIUFinishThenRestoresTheSource() throws {
            try Faults.scene(
                "migrate-interrupt-dump", container: "dump", command: "/bin/memhog 192", prepare: { try Fixtures.installMemhog(into: $0) }
            ) { scene in
                #expect(try scene.a.plain.waitFor("dump", file: "/counter", seconds: 60))
                let sum = try scene.a.plain.read("dump", "/memsum")
                let (migrate, output) = try scene.startMigration(ownGroup: true)
                let dumping = try eventually(90, every: 0.01) {
                    Faults.descendants(of: migrate).contains { Faults.isCRIU($0) && Faults.commandLine(of: $0).contains(" swrk") }
                }
                #expect(dumping, "CRIU never ran: \((try? String(contentsOfFile: output, encoding: .utf8)) ?? "")")
                let result = try Self.interrupt(migrate, with: SIGINT, output: output)
                try Self.expectRolledBack(result, by: SIGINT, scene, "dump")
                #expect(try scene.a.plain.read("dump", "/memsum") == sum, "memory changed")
            }
        }
    }
}
