import FerrySystem
import Foundation
import Testing

extension Integration {
    /// `ferry migrate --postcopy`: the target's copy runs before its memory has arrived.
    @Suite struct Postcopy {
        static let pipeMaxSize = "/proc/sys/fs/pipe-max-size"

        static func pipeLimit() throws -> String {
            try String(contentsOfFile: pipeMaxSize, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        }

        @Test func aPostcopyMigrationKeepsTheMemoryIntact() throws {
            let before = try Self.pipeLimit()
            try MigrationFaults.scene("postcopy", container: "pc", command: "/bin/memhog 256", prepare: Fixtures.installMemhog) { scene in
                let (a, b, hosts) = (scene.a, scene.b, scene.hosts)
                #expect(try a.plain.waitFor("pc", file: "/memsum", seconds: 60))
                let sum = try a.plain.read("pc", "/memsum")
                let counted = try a.plain.counter("pc")

                let result = try a.migrate("pc", to: 2, ["--postcopy", "--json"])
                #expect(result.succeeded, "\(result.stderr)")
                let summary = try JSONDocuments.migrationSummary(result.stdout)
                let frozen = summary["frozenSeconds"] as? Double ?? 0
                #expect(frozen > 0, "\(result.stdout)")
                let phases = (summary["phases"] as? [[String: Any]] ?? []).compactMap { $0["step"] as? String }
                #expect(phases.contains("await-pages"), "\(result.stdout)")

                #expect(try b.plain.counter("pc") >= counted, "the counter was reset")
                #expect(try b.plain.read("pc", "/memsum") == sum, "the memory changed on the way")
                let now = try b.plain.counter("pc")
                #expect(try eventually(20) { try b.plain.counter("pc") > now }, "the copy does not run")
                #expect(!FileManager.default.fileExists(atPath: hosts.root(1) + "/containers/pc"), "the source kept the container")
                #expect(!FileManager.default.fileExists(atPath: hosts.root(1) + "/migrations/pc.json"))
                #expect(!FileManager.default.fileExists(atPath: hosts.root(2) + "/containers/pc/images"), "the target kept the images")
                #expect(try Self.pipeLimit() == before, "fs.pipe-max-size was not put back")
            }
        }

        /// Each step of a post-copy failing (FERRY_FAIL_AT): CRIU's lazy dump, waiting for
        /// the daemon or serving it, lets go; the target's copy, if any, is killed; the
        /// source's tasks resume with their memory; the sysctl is back.
        @Test func everyPostcopyStepFailingLeavesTheSourceRunning() throws {
            let before = try Self.pipeLimit()
            try MigrationFaults.scene("postcopy-undo", container: "pu", command: "/bin/memhog 64", prepare: Fixtures.installMemhog) { scene in
                let (a, hosts) = (scene.a, scene.hosts)
                #expect(try a.plain.waitFor("pu", file: "/memsum", seconds: 60))
                let sum = try a.plain.read("pu", "/memsum")
                let steps = try a.run(["migrate", "--list-steps", "--postcopy"]).stdout.split(separator: "\n").map(String.init)
                #expect(steps.contains("await-pages"))
                for step in ["checkpoint", "final-sync", "send-images", "restore-target", "await-pages"] {
                    let result = try a.migrate("pu", to: 2, ["--postcopy"], environment: ["FERRY_FAIL_AT": step])
                    #expect(!result.succeeded && result.stderr.contains("target was cleaned"), "\(step): \(result.stderr)")
                    #expect(try a.plain.read("pu", "/memsum") == sum, "\(step): the source's memory changed")
                    try scene.expectRunsOnSourceAgain(countedAtLeast: 0)
                    #expect(try Self.pipeLimit() == before, "\(step): fs.pipe-max-size was not put back")
                    #expect(!FileManager.default.fileExists(atPath: hosts.root(1) + "/migrations/pu.pipe-max-size"))
                    #expect(!FileManager.default.fileExists(atPath: hosts.root(1) + "/containers/pu/lazy-dump.conf"), "\(step): CRIU's config file stayed")
                }
            }
        }

        /// A container with a TCP connection: a failed post-copy (the daemon's verdict never
        /// asked for) leaves the connection on the source, its network lock lifted; a
        /// post-copy that completes keeps it, every byte echoed.
        @Test func aTCPConnectionSurvivesAPostcopyAndAFailedOne() throws {
            try Network.scene("postcopy-net") { scratch, hosts, program in
                let a = hosts.ferry(1)
                let stream = try Network.Stream(from: 3, hosts: hosts, scratch: scratch, program: program)
                #expect(try stream.flows(), "no echo before the migration: \(stream.text)")
                let failed = try a.migrate("echo", to: 2, ["--postcopy"], environment: ["FERRY_FAIL_AT": "await-pages"])
                #expect(!failed.succeeded && failed.stderr.contains("target was cleaned"), "\(failed.stderr)")
                #expect(try stream.flows(), "the connection died on the source: \(stream.text)")
                let migrated = try a.migrate("echo", to: 2, ["--postcopy"])
                #expect(migrated.succeeded, "\(migrated.stdout) \(migrated.stderr)")
                #expect(try stream.flows(), "the stream stopped after the post-copy: \(stream.text)")
                #expect(try Network.ping(from: 3, hosts, program), "the container does not answer ping on h2")
                let (code, report) = try stream.finish()
                #expect(code == 0, "the stream broke: \(report)")
                let numbers = report.split(separator: " ")
                #expect(numbers.count >= 4 && numbers[1] == numbers[3], "not every byte came back: \(report)")
            }
        }

        /// Starts a --postcopy migration of a 96 MiB memhog over a link throttled to 40 Mbit/s
        /// (the post-copy lasts about 20 s), waits until the target's copy runs with its
        /// lazy-pages daemon still fetching, and hands over the scene, the /memsum from before
        /// and the migration's pid and output.
        static func midPostcopy(
            _ label: String, lease: Int, _ body: (MigrationFaults.Scene, String, pid_t, String) throws -> Void
        ) throws {
            let before = try pipeLimit()
            try MigrationFaults.scene(label, container: "pf", command: "/bin/memhog 96", prepare: Fixtures.installMemhog) { scene in
                let (a, b, hosts) = (scene.a, scene.b, scene.hosts)
                #expect(try a.plain.waitFor("pf", file: "/memsum", seconds: 60))
                let sum = try a.plain.read("pf", "/memsum")
                let unthrottle = try scene.throttle("40mbit")
                defer { unthrottle() }
                let (migrate, output) = try scene.startMigration(["--postcopy"], environment: ["FERRY_MIGRATION_LEASE": "\(lease)"])
                var ended = false
                defer { if !ended { kill(migrate, SIGKILL); _ = try? Spawn.wait(migrate) } }
                let underWay = try eventually(90) {
                    let fetching = MigrationFaults.processes(mentioning: hosts.root(2), named: ["criu", "ld-linux-x86-64"]).contains { MigrationFaults.commandLine(of: $0).contains("lazy-pages") }
                    return try fetching && b.plain.run(["status", "pf"]).stdout.contains("running")
                }
                #expect(underWay, "the post-copy never started: \((try? String(contentsOfFile: output, encoding: .utf8)) ?? "")")
                #expect(try MigrationFaults.isFrozen(a.plain, "pf"), "the source's tasks run during the post-copy")
                try body(scene, sum, migrate, output)
                ended = true
                #expect(try pipeLimit() == before, "fs.pipe-max-size was not put back")
            }
        }

        /// kill -9 of the source's ferry during the post-copy: the target's daemon fails and
        /// its copy is killed at once; the source's tasks stay frozen, intact, until
        /// `ferry recover` resumes them (README, "Post-copy").
        @Test func killingTheSourceDuringThePostcopyLeavesOneIntactCopy() throws {
            try Self.midPostcopy("postcopy-kill", lease: 60) { scene, sum, migrate, output in
                let (a, hosts) = (scene.a, scene.hosts)
                kill(migrate, SIGKILL)
                _ = try Spawn.wait(migrate)
                // At once, not at the end of the 60 s lease.
                let gone = try eventually(15) { ((try? FileManager.default.contentsOfDirectory(atPath: hosts.root(2) + "/containers")) ?? []).isEmpty }
                #expect(gone, "the target's copy outlived its source")
                #expect(try MigrationFaults.isFrozen(a.plain, "pf"), "the source's tasks were thawed without a recovery")
                #expect(FileManager.default.fileExists(atPath: hosts.root(1) + "/migrations/pf.json"))

                let recovered = try a.run(["recover", "pf"])
                #expect(recovered.succeeded && recovered.stdout.contains("running"), "\(recovered.stdout) \(recovered.stderr)")
                #expect(try a.plain.read("pf", "/memsum") == sum, "the source's memory changed")
                try scene.expectRunsOnSourceAgain(countedAtLeast: 0)
            }
        }

        /// The source's link cut during the post-copy: the target kills its copy once the
        /// link has been silent for the lease; the source resumes its frozen tasks once that
        /// lease has surely run out; the container runs on the source only, memory intact.
        @Test func cuttingTheLinkDuringThePostcopyLeavesOneIntactCopy() throws {
            try Self.midPostcopy("postcopy-cut", lease: 15) { scene, sum, migrate, output in
                let (a, hosts) = (scene.a, scene.hosts)
                let source = try hosts.namespace(1)
                try Shell.run(["ip", "netns", "exec", source, "sysctl", "-qw", "net.ipv6.conf.eth0.keep_addr_on_down=1"])
                defer { _ = try? Shell.run(["ip", "-n", source, "link", "set", "eth0", "up"]) }
                try Shell.run(["ip", "-n", source, "link", "set", "eth0", "down"])
                let started = Date()
                let gone = try eventually(40) { ((try? FileManager.default.contentsOfDirectory(atPath: hosts.root(2) + "/containers")) ?? []).isEmpty }
                #expect(gone, "the target's copy outlived the link")
                #expect(try MigrationFaults.isFrozen(a.plain, "pf"), "the source thawed while the target's copy could still run")

                let status = try Spawn.wait(migrate)
                let text = try String(contentsOfFile: output, encoding: .utf8)
                #expect(status == 1 && text.contains("runs on the source") && text.contains("ferry recover pf"), "exit \(status): \(text)")
                #expect(Date().timeIntervalSince(started) >= 15, "the source resumed before the target's lease could have run out")
                #expect(try a.plain.read("pf", "/memsum") == sum, "the source's memory changed")
                // The staging the target could not be told to remove goes at the next contact.
                try Shell.run(["ip", "-n", source, "link", "set", "eth0", "up"])
                #expect(try MigrationFaults.linkIsBack(source, hosts: scene.hosts), "the source's link did not come back")
                #expect(try eventually(30) { try a.run(["recover", "pf"]).succeeded }, "recover could not clean the target")
                try scene.expectRunsOnSourceAgain(countedAtLeast: 0)
            }
        }
    }
}
