import FerrySystem
import Foundation
import Testing

extension Integration {
    /// Faults from outside the process, on a throttled link so that phases last seconds.
    @Suite struct MigrationFaults {
        /// Processes whose command line mentions `text` (this test's scratch directory).
        static func processes(mentioning text: String, named names: Set<String>) -> [pid_t] {
            ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry in
                guard let pid = pid_t(entry),
                    let comm = try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines),
                    names.contains(comm),
                    let cmdline = try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)
                else { return nil }
                return cmdline.contains(text) ? pid : nil
            }
        }

        /// The `ferry agent` serving host N (sshd hands it that host's FERRY_ROOT).
        static func agent(of hosts: TestHosts, _ host: Int) -> pid_t? {
            processes(mentioning: "agent", named: ["ferry"]).first { pid in
                let environ = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/environ"))) ?? Data()
                return String(decoding: environ, as: UTF8.self).split(separator: "\0").contains("FERRY_ROOT=\(hosts.root(host))")
            }
        }

        @Test func aTargetAgentKilledMidTransferIsReportedAndUndone() throws {
            let scratch = try Scratch("migrate-fault-agent")
            defer { scratch.cleanUp() }
            let hosts = try TestHosts(scratch)
            defer { hosts.tearDown() }
            let rootfs = try Rootfs.busybox(in: scratch)
            // 48 MiB that does not compress, over a link throttled to 32 Mbit/s: the live
            // pre-sync lasts about 12 s.
            try Shell.run(["dd", "if=/dev/urandom", "of=\(rootfs)/ballast", "bs=1M", "count=48", "status=none"])
            let a = hosts.ferry(1)
            try a.plain.ok(["create", "f1", "--rootfs", rootfs, "--", "/bin/sh", "-c", Migration.counter])
            try a.plain.ok(["start", "f1"])
            let namespace = try hosts.namespace(1)
            try Shell.run(["ip", "netns", "exec", namespace, "tc", "qdisc", "add", "dev", "eth0", "root", "tbf", "rate", "32mbit", "burst", "32kb", "latency", "100ms"])
            defer { _ = try? Shell.run(["ip", "netns", "exec", namespace, "tc", "qdisc", "del", "dev", "eth0", "root"]) }

            let output = scratch.path("migrate.out")
            FileManager.default.createFile(atPath: output, contents: nil)
            let log = try OwnedFileDescriptor.open(output, O_WRONLY)
            var environment = ProcessInfo.processInfo.environment
            environment["FERRY_ROOT"] = hosts.root(1)
            let migrate = try Spawn.start(
                ["nsenter", "--net=/run/netns/\(namespace)", Ferry.executable, "migrate", "f1", "h2", "--ssh-config", hosts.sshConfig],
                environment: environment.map { "\($0)=\($1)" }, stdout: log.rawValue, stderr: log.rawValue)
            log.close()
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
            let before = try a.plain.counter("f1")
            #expect(try eventually { try a.plain.counter("f1") > before }, "the counter stopped")
            // The undo reached the target on a fresh connection: its staging is gone.
            #expect(try eventually(30) { !FileManager.default.fileExists(atPath: staged) }, "the target kept the staging")
            #expect(!FileManager.default.fileExists(atPath: hosts.root(1) + "/migrations/f1.json"), "a journal stayed")
            #expect(try eventually(15) { Self.processes(mentioning: hosts.directory, named: ["rsync", "ssh"]).isEmpty }, "orphans remain")
            // And the same container still migrates once the link is fine again.
            _ = try? Shell.run(["ip", "netns", "exec", namespace, "tc", "qdisc", "del", "dev", "eth0", "root"])
            #expect(try a.migrate("f1", to: 2).succeeded)
        }
    
        /// Whether the container's init on the host that `ferry` manages is frozen.
        static func isFrozen(_ ferry: Ferry, _ name: String) throws -> Bool {
            let status = try ferry.ok(["status", name, "--json"]).stdout
            let summary = try JSONSerialization.jsonObject(with: Data(status.utf8)) as? [String: Any]
            guard let pid = summary?["pid"] as? Int else { return false }
            let cgroups = try String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8)
            guard let line = cgroups.split(separator: "\n").first(where: { $0.contains(":freezer:") }) else { return false }
            let path = "/sys/fs/cgroup/freezer" + line.split(separator: ":", maxSplits: 2)[2] + "/freezer.state"
            return try String(contentsOfFile: path, encoding: .utf8).hasPrefix("FROZEN")
        }

        /// kill -9 of the source's ferry after its commit mark, before the commit reached the
        /// target: the target keeps its copy frozen (never two running), and `recover` asks
        /// the target and finishes the migration there.
        @Test func aSourceKilledBeforeTheCommitIsFinishedByRecover() throws {
            let scratch = try Scratch("migrate-fault-commit")
            defer { scratch.cleanUp() }
            let hosts = try TestHosts(scratch)
            defer { hosts.tearDown() }
            let rootfs = try Rootfs.busybox(in: scratch)
            let a = hosts.ferry(1)
            let b = hosts.ferry(2)
            try a.plain.ok(["create", "own", "--rootfs", rootfs, "--", "/bin/sh", "-c", Migration.counter])
            try a.plain.ok(["start", "own"])
            let killed = try a.migrate("own", to: 2, environment: ["FERRY_FAIL_AT": "finish-source:committed:kill", "FERRY_MIGRATION_LEASE": "60"])
            #expect(killed.status == 137, "\(killed.status) \(killed.stderr)")
            #expect(try b.plain.ok(["status", "own"]).stdout.contains("running"))
            #expect(try Self.isFrozen(b.plain, "own"), "the target's copy runs before the commit")
            #expect(try a.plain.ok(["status", "own"]).stdout.contains("migration: leaving"))
            #expect(try b.plain.ok(["status", "own"]).stdout.contains("migration: arriving"))
            #expect(!(try a.plain.ok(["status", "own"]).stdout.contains("running")), "the source runs too")

            let recovered = try a.run(["recover", "own"])
            #expect(recovered.succeeded && recovered.stdout.contains("finished"), "\(recovered.stdout) \(recovered.stderr)")
            #expect(!(try Self.isFrozen(b.plain, "own")))
            let before = try b.plain.counter("own")
            #expect(try eventually { try b.plain.counter("own") > before }, "the target's copy does not run after the commit")
            #expect(!FileManager.default.fileExists(atPath: hosts.root(1) + "/containers/own"), "the source kept its copy")
            #expect(!FileManager.default.fileExists(atPath: hosts.root(1) + "/migrations/own.json"))
        }

        /// The same kill, and nobody recovers in time: the target's monitor fences its copy when
        /// the lease runs out and removes it; `recover` then finds nothing there and restores
        /// the container on the source from its images, counter not reset.
        @Test func aLeaseThatRunsOutFencesTheTargetAndRecoverRestoresTheSource() throws {
            let scratch = try Scratch("migrate-fault-lease")
            defer { scratch.cleanUp() }
            let hosts = try TestHosts(scratch)
            defer { hosts.tearDown() }
            let rootfs = try Rootfs.busybox(in: scratch)
            let a = hosts.ferry(1)
            try a.plain.ok(["create", "fence", "--rootfs", rootfs, "--", "/bin/sh", "-c", Migration.counter])
            try a.plain.ok(["start", "fence"])
            let atMigration = try a.plain.counter("fence")
            let killed = try a.migrate("fence", to: 2, environment: ["FERRY_FAIL_AT": "finish-source:committed:kill", "FERRY_MIGRATION_LEASE": "6"])
            #expect(killed.status == 137, "\(killed.status) \(killed.stderr)")
            let arrived = hosts.root(2) + "/containers/fence"
            #expect(FileManager.default.fileExists(atPath: arrived))
            #expect(try eventually(30) { !FileManager.default.fileExists(atPath: arrived) }, "the target did not fence and remove its copy")

            let recovered = try a.run(["recover", "fence"])
            #expect(recovered.succeeded && recovered.stdout.contains("rolled back"), "\(recovered.stdout) \(recovered.stderr)")
            #expect(try a.plain.ok(["status", "fence"]).stdout.contains("running"))
            let now = try a.plain.counter("fence")
            #expect(now >= atMigration, "the counter was reset: \(atMigration) → \(now)")
            #expect(try eventually { try a.plain.counter("fence") > now })
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: hosts.root(2) + "/containers")) ?? []).isEmpty)
        }

        /// kill -9 of the source's ferry after CRIU dumped (and killed the tasks) but before
        /// Ferry wrote its manifest: `recover` finishes the record from the pending one and
        /// CRIU's log, and restores the container from its complete images.
        @Test func aSourceKilledBetweenDumpAndManifestIsRestoredByRecover() throws {
            let scratch = try Scratch("migrate-fault-dump")
            defer { scratch.cleanUp() }
            let hosts = try TestHosts(scratch)
            defer { hosts.tearDown() }
            let rootfs = try Rootfs.busybox(in: scratch)
            let a = hosts.ferry(1)
            try a.plain.ok(["create", "dumped", "--rootfs", rootfs, "--", "/bin/sh", "-c", Migration.counter])
            try a.plain.ok(["start", "dumped"])
            let atMigration = try a.plain.counter("dumped")
            let killed = try a.migrate("dumped", to: 2, environment: ["FERRY_FAIL_AT": "dump-written:kill"])
            #expect(killed.status == 137, "\(killed.status) \(killed.stderr)")
            #expect(!(try a.plain.ok(["status", "dumped"]).stdout.contains("running")), "CRIU left the tasks running")

            let recovered = try a.run(["recover", "dumped"])
            #expect(recovered.succeeded && recovered.stdout.contains("rolled back") && recovered.stdout.contains("running"), "\(recovered.stdout) \(recovered.stderr)")
            let now = try a.plain.counter("dumped")
            #expect(now >= atMigration, "the counter was reset: \(atMigration) → \(now)")
            #expect(try eventually { try a.plain.counter("dumped") > now })
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: hosts.root(2) + "/containers")) ?? []).isEmpty)
            #expect(!FileManager.default.fileExists(atPath: hosts.root(1) + "/migrations/dumped.json"))
        }

        /// The restored init killed on the target while it waits for the commit: the copy is
        /// never taken (its monitor drops it), and `recover` brings the container back here.
        @Test func aRestoredInitKilledBeforeTheCommitIsNeverTaken() throws {
            let scratch = try Scratch("migrate-fault-init")
            defer { scratch.cleanUp() }
            let hosts = try TestHosts(scratch)
            defer { hosts.tearDown() }
            let rootfs = try Rootfs.busybox(in: scratch)
            let a = hosts.ferry(1)
            let b = hosts.ferry(2)
            try a.plain.ok(["create", "gone", "--rootfs", rootfs, "--", "/bin/sh", "-c", Migration.counter])
            try a.plain.ok(["start", "gone"])
            let atMigration = try a.plain.counter("gone")
            let failed = try a.migrate("gone", to: 2, environment: ["FERRY_FAIL_AT": "finish-source:committed", "FERRY_MIGRATION_LEASE": "60"])
            #expect(!failed.succeeded && failed.stderr.contains("ferry recover gone"), "\(failed.stderr)")
            let status = try b.plain.ok(["status", "gone", "--json"]).stdout
            let pid = try #require((try JSONSerialization.jsonObject(with: Data(status.utf8)) as? [String: Any])?["pid"] as? Int)
            // Frozen, it cannot die yet: the kill waits, and the copy counts as dead already.
            kill(pid_t(pid), SIGKILL)

            let recovered = try a.run(["recover", "gone"])
            #expect(recovered.succeeded && recovered.stdout.contains("rolled back"), "\(recovered.stdout) \(recovered.stderr)")
            #expect(try eventually(30) { !FileManager.default.fileExists(atPath: hosts.root(2) + "/containers/gone") }, "the dead copy stayed")
            let now = try a.plain.counter("gone")
            #expect(now >= atMigration, "the counter was reset: \(atMigration) → \(now)")
            #expect(try eventually { try a.plain.counter("gone") > now })
        }

        /// A freeze that lasts longer than `--max-downtime` is undone: the source resumes.
        @Test func pastMaxDowntimeTheSourceResumes() throws {
            let scratch = try Scratch("migrate-downtime")
            defer { scratch.cleanUp() }
            let hosts = try TestHosts(scratch)
            defer { hosts.tearDown() }
            let rootfs = try Rootfs.busybox(in: scratch)
            let a = hosts.ferry(1)
            try a.plain.ok(["create", "slow", "--rootfs", rootfs, "--", "/bin/sh", "-c", Migration.counter])
            try a.plain.ok(["start", "slow"])
            let bad = try a.migrate("slow", to: 2, ["--max-downtime", "0"])
            #expect(bad.status == 2 && bad.stderr.contains("--max-downtime"), "\(bad.stderr)")
            // A dump alone takes longer than 10 ms.
            let result = try a.migrate("slow", to: 2, ["--max-downtime", "0.01"])
            #expect(!result.succeeded && result.stderr.contains("past --max-downtime"), "\(result.stderr)")
            #expect(result.stderr.contains("runs on the source"), "\(result.stderr)")
            let before = try a.plain.counter("slow")
            #expect(try eventually { try a.plain.counter("slow") > before })
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: hosts.root(2) + "/containers")) ?? []).isEmpty)
            #expect(!FileManager.default.fileExists(atPath: hosts.root(1) + "/migrations/slow.json"))
        }

        /// A busy container deletes files while the live pre-sync copies them (rsync's exit
        /// 24, "some files vanished"): normal, not a failure; the frozen sync is exact.
        @Test func filesVanishingDuringThePreSyncAreNormal() throws {
            let scratch = try Scratch("migrate-vanish")
            defer { scratch.cleanUp() }
            let hosts = try TestHosts(scratch)
            defer { hosts.tearDown() }
            let rootfs = try Rootfs.busybox(in: scratch)
            // 4,000 files of 4 KiB, deleted one by one while a throttled pre-sync copies them.
            try Shell.run(["/bin/sh", "-c", "mkdir -p \(rootfs)/churn && cd \(rootfs)/churn && for i in $(seq 1 4000); do head -c 4096 /dev/urandom > f$i; done"])
            let a = hosts.ferry(1)
            let b = hosts.ferry(2)
            let churn = "while [ ! -e /go ]; do sleep 0.05; done; for f in /churn/*; do rm -f $f; sleep 0.002; done; touch /churned; " + Migration.counter
            try a.plain.ok(["create", "busy", "--rootfs", rootfs, "--", "/bin/sh", "-c", churn])
            try a.plain.ok(["start", "busy"])
            let namespace = try hosts.namespace(1)
            try Shell.run(["ip", "netns", "exec", namespace, "tc", "qdisc", "add", "dev", "eth0", "root", "tbf", "rate", "16mbit", "burst", "32kb", "latency", "100ms"])
            defer { _ = try? Shell.run(["ip", "netns", "exec", namespace, "tc", "qdisc", "del", "dev", "eth0", "root"]) }
            _ = try a.plain.exec("busy", "touch /go")
            let result = try a.migrate("busy", to: 2, ["--verbose"])
            #expect(result.succeeded, "\(result.stderr.suffix(2000))")
            #expect(result.stderr.contains("files vanished during the live copy"), "the churn missed the pre-sync: \(result.stderr.suffix(2000))")
            #expect(try b.plain.ok(["status", "busy"]).stdout.contains("running"))
            #expect(try eventually(60) { (try b.plain.run(["exec", "busy", "--", "/bin/sh", "-c", "test -e /churned && ls /churn | wc -l"])).stdout == "0\n" }, "the churn did not go on")
        }
    }
}
