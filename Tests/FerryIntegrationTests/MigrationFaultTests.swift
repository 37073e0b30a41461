import FerrySystem
import Foundation
import Testing

extension Integration {
    /// Faults from outside the process, on a throttled link so that phases last seconds.
    @Suite struct MigrationFaults {
        /// Processes whose command line mentions `text` (this test's scratch directory).
        static func processes(mentioning text: String, named names: Set<String>) -> [pid_t] {
            allProcesses().filter { names.contains(comm(of: $0)) && commandLine(of: $0).contains(text) }
        }

        /// The `ferry agent` serving host N (sshd hands it that host's FERRY_ROOT).
        static func agent(of hosts: TestHosts, _ host: Int) -> pid_t? {
            processes(mentioning: "agent", named: ["ferry"]).first { environ(of: $0).contains("FERRY_ROOT=\(hosts.root(host))") }
        }

        /// Two test hosts and a busybox container running `command` on h1, created with
        /// `options`; `prepare` may add files to the rootfs first. Everything is removed
        /// afterwards, whatever happens.
        static func scene(
            _ label: String, container name: String, command: String = Migration.counter, options: [String] = [],
            prepare: (String) throws -> Void = { _ in }, _ body: (Scene) throws -> Void
        ) throws {
            let scratch = try Scratch(label)
            defer { scratch.cleanUp() }
            let hosts = try TestHosts(scratch)
            defer { hosts.tearDown() }
            let rootfs = try Rootfs.busybox(in: scratch)
            try prepare(rootfs)
            let scene = Scene(scratch: scratch, hosts: hosts, name: name)
            try scene.a.plain.ok(["create", name, "--rootfs", rootfs] + options + ["--", "/bin/sh", "-c", command])
            try scene.a.plain.ok(["start", name])
            try body(scene)
        }

        /// `megabytes` of incompressible data in the rootfs, so that a throttled copy lasts.
        static func ballast(_ megabytes: Int) -> (String) throws -> Void {
            { rootfs in try Shell.run(["dd", "if=/dev/urandom", "of=\(rootfs)/ballast", "bs=1M", "count=\(megabytes)", "status=none"]) }
        }

        struct Scene {
            let scratch: Scratch
            let hosts: TestHosts
            let name: String
            var a: HostFerry { hosts.ferry(1) }
            var b: HostFerry { hosts.ferry(2) }

            /// Starts `ferry migrate NAME h2 ARGUMENTS` on h1 in the background, its output into a file
            /// of the scratch directory; returns the pid and that file.
            /// `ownGroup`: ferry leads a session and process group of its own, as a job a
            /// shell runs in the foreground, so `kill(-pid, …)` is what Ctrl-C does there.
            func startMigration(_ arguments: [String] = [], environment extra: [String: String] = [:], ownGroup: Bool = false) throws -> (pid: pid_t, output: String) {
                let output = scratch.path("migrate.out")
                FileManager.default.createFile(atPath: output, contents: nil)
                let log = try OwnedFileDescriptor.open(output, O_WRONLY)
                var environment = ProcessInfo.processInfo.environment
                environment["FERRY_ROOT"] = hosts.root(1)
                for (key, value) in extra { environment[key] = value }
                let pid = try Spawn.start(
                    ["nsenter", "--net=/run/netns/\(try hosts.namespace(1))", Ferry.executable, "migrate", name, "h2", "--ssh-config", hosts.sshConfig] + arguments,
                    environment: environment.map { "\($0)=\($1)" }, stdout: log.rawValue, stderr: log.rawValue, newSession: ownGroup)
                log.close()
                return (pid, output)
            }

            /// Throttles h1's link (tc tbf); the returned closure lifts it.
            func throttle(_ rate: String) throws -> () -> Void {
                let namespace = try hosts.namespace(1)
                try Shell.run(["ip", "netns", "exec", namespace, "tc", "qdisc", "add", "dev", "eth0", "root", "tbf", "rate", rate, "burst", "32kb", "latency", "100ms"])
                return { _ = try? Shell.run(["ip", "netns", "exec", namespace, "tc", "qdisc", "del", "dev", "eth0", "root"]) }
            }

            /// The container runs on the source again, its counter not reset and advancing,
            /// and the target holds nothing of it.
            func expectRunsOnSourceAgain(countedAtLeast atMigration: Int, sourceLocation: SourceLocation = #_sourceLocation) throws {
                let now = try a.plain.counter(name)
                #expect(now >= atMigration, "the counter was reset: \(atMigration) → \(now)", sourceLocation: sourceLocation)
                #expect(try eventually { try a.plain.counter(name) > now }, "the counter stopped", sourceLocation: sourceLocation)
                #expect(
                    ((try? FileManager.default.contentsOfDirectory(atPath: hosts.root(2) + "/containers")) ?? []).isEmpty,
                    "the target holds something", sourceLocation: sourceLocation)
                #expect(!FileManager.default.fileExists(atPath: hosts.root(1) + "/migrations/\(name).json"), "a journal stayed", sourceLocation: sourceLocation)
            }
        }

        /// kill -9 of the target's agent while the live pre-sync crosses a throttled link: an
        /// error with a message (it used to be a silent SIGPIPE death, exit 141), the source
        /// runs on, the undo reaches the target on a fresh connection, nothing is orphaned.
        @Test func aTargetAgentKilledMidTransferIsReportedAndUndone() throws {
            // 48 MiB that does not compress, over 32 Mbit/s: the pre-sync lasts about 12 s.
            try Self.scene("migrate-fault-agent", container: "f1", prepare: Self.ballast(48)) { scene in
                let (a, hosts) = (scene.a, scene.hosts)
                let unthrottle = try scene.throttle("32mbit")
                defer { unthrottle() }
                let (migrate, output) = try scene.startMigration()
                // Mid-transfer: the target has started receiving the private area.
                let staged = hosts.root(2) + "/containers/.f1.incoming"
                let receiving = try eventually(60) {
                    !Self.processes(mentioning: hosts.root(1), named: ["rsync"]).isEmpty && FileManager.default.fileExists(atPath: staged)
                }
                #expect(receiving, "the transfer never started: \((try? String(contentsOfFile: output, encoding: .utf8)) ?? "")")
                let agent = try #require(Self.agent(of: hosts, 2), "no agent serves h2")
                kill(agent, SIGKILL)

                let status = try Spawn.wait(migrate)
                let text = try String(contentsOfFile: output, encoding: .utf8)
                #expect(status == 1, "ferry migrate exited \(status) (141 is a silent SIGPIPE death): \(text)")
                #expect(text.contains("migration of f1 failed") && text.contains("runs on the source"), "\(text)")
                #expect(try a.plain.ok(["status", "f1"]).stdout.contains("running"))
                try scene.expectRunsOnSourceAgain(countedAtLeast: 0)
                #expect(try eventually(15) { Self.processes(mentioning: hosts.directory, named: ["rsync", "ssh"]).isEmpty }, "orphans remain")
                // And the same container still migrates once the link is fine again.
                unthrottle()
                #expect(try a.migrate("f1", to: 2).succeeded)
            }
        }
    
        /// Whether the container's init on the host that `ferry` manages is frozen.
        static func isFrozen(_ ferry: Ferry, _ name: String) throws -> Bool {
            let status = try ferry.ok(["status", name, "--json"]).stdout
            guard let pid = try JSONDocuments.payload(status, "container")["pid"] as? Int else { return false }
            let cgroups = try String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8)
            guard let line = cgroups.split(separator: "\n").first(where: { $0.contains(":freezer:") }) else { return false }
            let path = "/sys/fs/cgroup/freezer" + line.split(separator: ":", maxSplits: 2)[2] + "/freezer.state"
            return try String(contentsOfFile: path, encoding: .utf8).hasPrefix("FROZEN")
        }

        /// kill -9 of the source's ferry after its commit mark, before the commit reached the
        /// target: the target keeps its copy frozen (never two running), and `recover` asks
        /// the target and finishes the migration there.
        @Test func aSourceKilledBeforeTheCommitIsFinishedByRecover() throws {
            try Self.scene("migrate-fault-commit", container: "own") { scene in
                let (a, b) = (scene.a, scene.b)
                let killed = try a.migrate("own", to: 2, environment: ["FERRY_FAIL_AT": "finish-source:committed:kill", "FERRY_MIGRATION_LEASE": "60"])
                #expect(killed.status == 137, "\(killed.status) \(killed.stderr)")
                #expect(try b.plain.ok(["status", "own"]).stdout.contains("running"))
                #expect(try Self.isFrozen(b.plain, "own"), "the target's copy runs before the commit")
                #expect(try a.plain.ok(["status", "own"]).stdout.contains("migration: leaving"))
                #expect(try b.plain.ok(["status", "own"]).stdout.contains("migration: arriving"))
                // The source's tasks outlived the dump, frozen: they run no instruction.
                #expect(try Self.isFrozen(a.plain, "own"), "the source runs too")

                let recovered = try a.run(["recover", "own"])
                #expect(recovered.succeeded && recovered.stdout.contains("finished"), "\(recovered.stdout) \(recovered.stderr)")
                #expect(!(try Self.isFrozen(b.plain, "own")))
                let before = try b.plain.counter("own")
                #expect(try eventually { try b.plain.counter("own") > before }, "the target's copy does not run after the commit")
                #expect(!FileManager.default.fileExists(atPath: scene.hosts.root(1) + "/containers/own"), "the source kept its copy")
                #expect(!FileManager.default.fileExists(atPath: scene.hosts.root(1) + "/migrations/own.json"))
            }
        }

        /// The same kill, and nobody recovers in time: the target's monitor fences its copy when
        /// the lease runs out and removes it; `recover` then finds nothing there and restores
        /// the container on the source from its images, counter not reset.
        @Test func aLeaseThatRunsOutFencesTheTargetAndRecoverRestoresTheSource() throws {
            try Self.scene("migrate-fault-lease", container: "fence") { scene in
                let a = scene.a
                let atMigration = try a.plain.counter("fence")
                let killed = try a.migrate("fence", to: 2, environment: ["FERRY_FAIL_AT": "finish-source:committed:kill", "FERRY_MIGRATION_LEASE": "6"])
                #expect(killed.status == 137, "\(killed.status) \(killed.stderr)")
                let arrived = scene.hosts.root(2) + "/containers/fence"
                #expect(FileManager.default.fileExists(atPath: arrived))
                #expect(try eventually(30) { !FileManager.default.fileExists(atPath: arrived) }, "the target did not fence and remove its copy")

                let recovered = try a.run(["recover", "fence"])
                #expect(recovered.succeeded && recovered.stdout.contains("rolled back"), "\(recovered.stdout) \(recovered.stderr)")
                #expect(try a.plain.ok(["status", "fence"]).stdout.contains("running"))
                try scene.expectRunsOnSourceAgain(countedAtLeast: atMigration)
            }
        }

        /// kill -9 of the source's ferry after CRIU dumped (the tasks kept frozen) but before
        /// Ferry wrote its manifest: the tasks stay frozen, and `recover` rolls back: the
        /// target's staging goes and the source's tasks are thawed, counter not reset.
        @Test func aSourceKilledBetweenDumpAndManifestIsResumedByRecover() throws {
            try Self.scene("migrate-fault-dump", container: "dumped") { scene in
                let a = scene.a
                let atMigration = try a.plain.counter("dumped")
                let killed = try a.migrate("dumped", to: 2, environment: ["FERRY_FAIL_AT": "dump-written:kill"])
                #expect(killed.status == 137, "\(killed.status) \(killed.stderr)")
                #expect(try Self.isFrozen(a.plain, "dumped"), "the source's tasks run on without the migration's rollback")

                let recovered = try a.run(["recover", "dumped"])
                #expect(
                    recovered.succeeded && recovered.stdout.contains("rolled back") && recovered.stdout.contains("running"),
                    "\(recovered.stdout) \(recovered.stderr)")
                try scene.expectRunsOnSourceAgain(countedAtLeast: atMigration)
            }
        }

        /// A freeze that lasts longer than `--max-downtime` is undone: the source resumes.
        @Test func pastMaxDowntimeTheSourceResumes() throws {
            try Self.scene("migrate-downtime", container: "slow") { scene in
                let a = scene.a
                let atMigration = try a.plain.counter("slow")
                let bad = try a.migrate("slow", to: 2, ["--max-downtime", "0"])
                #expect(bad.status == 2 && bad.stderr.contains("--max-downtime"), "\(bad.stderr)")
                // A dump alone takes longer than 10 ms.
                let result = try a.migrate("slow", to: 2, ["--max-downtime", "0.01"])
                #expect(!result.succeeded && result.stderr.contains("past --max-downtime"), "\(result.stderr)")
                #expect(result.stderr.contains("runs on the source"), "\(result.stderr)")
                try scene.expectRunsOnSourceAgain(countedAtLeast: atMigration)
            }
        }

        /// A busy container deletes files while the live pre-sync copies them (rsync's exit
        /// 24, "some files vanished"): normal, not a failure; the frozen sync is exact.
        @Test func filesVanishingDuringThePreSyncAreNormal() throws {
            // 4,000 files of 4 KiB, deleted one by one while a throttled pre-sync copies them.
            let files = { (rootfs: String) throws in
                try Shell.run(["/bin/sh", "-c", "mkdir -p \(rootfs)/churn && cd \(rootfs)/churn && for i in $(seq 1 4000); do head -c 4096 /dev/urandom > f$i; done"])
            }
            let churn = "while [ ! -e /go ]; do sleep 0.05; done; for f in /churn/*; do rm -f $f; sleep 0.002; done; touch /churned; " + Migration.counter
            try Self.scene("migrate-vanish", container: "busy", command: churn, prepare: { try files($0) }) { scene in
                let (a, b) = (scene.a, scene.b)
                let unthrottle = try scene.throttle("16mbit")
                defer { unthrottle() }
                _ = try a.plain.exec("busy", "touch /go")
                let result = try a.migrate("busy", to: 2, ["--verbose"])
                #expect(result.succeeded, "\(result.stderr.suffix(2000))")
                #expect(result.stderr.contains("files vanished during the live copy"), "the churn missed the pre-sync: \(result.stderr.suffix(2000))")
                #expect(try b.plain.ok(["status", "busy"]).stdout.contains("running"))
                #expect(
                    try eventually(60) { (try b.plain.run(["exec", "busy", "--", "/bin/sh", "-c", "test -e /churned && ls /churn | wc -l"])).stdout == "0\n" },
                    "the churn did not go on")
            }
        }

        /// A target gone for good after the commit mark: `recover` cannot ask it, and
        /// `--forget-target` brings the container back here once the target's lease has
        /// surely ended; the next migration to that host cleans what the forgotten one left.
        @Test func forgetTargetRestoresHereAfterTheLeaseAndTheNextContactCleans() throws {
            try Self.scene("migrate-forget", container: "fg", command: "/bin/memhog 32", prepare: { try Fixtures.installMemhog(into: $0) }) { scene in
                let (a, b, hosts) = (scene.a, scene.b, scene.hosts)
                #expect(try a.plain.waitFor("fg", file: "/counter"))
                let sum = try a.plain.read("fg", "/memsum")
                let target = try hosts.namespace(2)
                try Shell.run(["ip", "netns", "exec", target, "sysctl", "-qw", "net.ipv6.conf.eth0.keep_addr_on_down=1"])
                defer { _ = try? Shell.run(["ip", "-n", target, "link", "set", "eth0", "up"]) }
                let (migrate, output) = try scene.startMigration(environment: ["FERRY_FAIL_AT": "finish-source:committed:hold", "FERRY_MIGRATION_LEASE": "8"])
                var ended = false
                defer { if !ended { kill(migrate, SIGKILL); _ = try? Spawn.wait(migrate) } }
                #expect(try eventually(120) { Self.processState(migrate) == "T" }, "the commit never came")
                try Shell.run(["ip", "-n", target, "link", "set", "eth0", "down"])
                kill(migrate, SIGCONT)
                let status = try Spawn.wait(migrate)
                ended = true
                let text = try String(contentsOfFile: output, encoding: .utf8)
                #expect(status == 1 && text.contains("committed but not finished"), "exit \(status): \(text)")

                // Without --forget-target, recover cannot ask the target and changes nothing.
                let asked = try a.run(["recover", "fg"])
                #expect(!asked.succeeded && asked.stderr.contains("h2"), "\(asked.stdout) \(asked.stderr)")
                #expect(FileManager.default.fileExists(atPath: hosts.root(1) + "/migrations/fg.json"))

                let forgot = try a.run(["recover", "fg", "--forget-target"])
                #expect(forgot.succeeded && forgot.stdout.contains("forgot h2") && forgot.stdout.contains("running"), "\(forgot.stdout) \(forgot.stderr)")
                #expect(forgot.stdout.contains("had been committed"), "the committed risk is not said: \(forgot.stdout)")
                #expect(try a.plain.read("fg", "/memsum") == sum, "memory changed")
                try scene.expectRunsOnSourceAgain(countedAtLeast: 0)
                #expect(FileManager.default.fileExists(atPath: hosts.root(1) + "/migrations/fg.forgotten-target.json"))

                // The target comes back: its lease fenced its copy; the next contact cleans up.
                try Shell.run(["ip", "-n", target, "link", "set", "eth0", "up"])
                #expect(try Self.linkIsBack(target, hosts: hosts), "the target's link did not come back")
                #expect(!(try b.plain.run(["status", "fg"])).stdout.contains("status:  running"), "the forgotten target runs a copy")
                let again = try a.migrate("fg", to: 2)
                #expect(again.succeeded, "\(again.stderr)")
                #expect(!FileManager.default.fileExists(atPath: hosts.root(1) + "/migrations/fg.forgotten-target.json"), "the next contact did not settle it")
                #expect(try b.plain.read("fg", "/memsum") == sum, "memory changed")
            }
        }
    }
}
