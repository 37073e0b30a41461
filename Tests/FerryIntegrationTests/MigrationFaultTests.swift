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
    }
}
