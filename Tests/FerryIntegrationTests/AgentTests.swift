import FerrySystem
import Foundation
import Testing

extension Integration {
    /// The target's side: the agent refuses clearly, and a migration's plan compares both
    /// hosts before anything changes.
    @Suite struct Agent {
        /// `ferry agent` without an output descriptor used to crash on a failed dup.
        @Test func anAgentWithoutOutputFailsWithAnError() throws {
            let scratch = try Scratch("agent-no-stdout")
            defer { scratch.cleanUp() }
            let output = try Spawn.run(
                ["/bin/sh", "-c", "exec \"$0\" agent >&- </dev/null", Ferry.executable],
                environment: (ProcessInfo.processInfo.environment.merging(["FERRY_ROOT": scratch.path("root")]) { $1 }).map { "\($0)=\($1)" })
            #expect(output.status == 1, "ferry agent exited \(output.status): \(output.stderr)")
            #expect(output.stderr.contains("dup") && output.stderr.contains("descriptor 1"), "\(output.stderr)")
            #expect(output.stderr.split(separator: "\n").count <= 2, "\(output.stderr)")
        }

        /// A target whose CRIU is older than the source's: the dry run says so, naming both
        /// versions, and the real run refuses with the same words before freezing anything.
        @Test func anOlderCRIUOnTheTargetIsRefusedByDryRunAndRun() throws {
            let scratch = try Scratch("agent-old-criu")
            defer { scratch.cleanUp() }
            let hosts = try TestHosts(scratch)
            defer { hosts.tearDown() }
            let rootfs = try Rootfs.busybox(in: scratch)
            let a = hosts.ferry(1)
            try a.plain.ok(["create", "old", "--rootfs", rootfs, "--", "/bin/sh", "-c", Migration.counter])
            try a.plain.ok(["start", "old"])
            // The target's ferry sees a CRIU that reports 4.1.0 (and is the real one otherwise).
            let realCRIU = "/var/cache/ferry/criu-current/bin/criu"
            let oldCRIU = scratch.path("old-criu")
            try """
                #!/bin/sh
                [ "$1" = --version ] && { echo "Version: 4.1.0"; exit 0; }
                exec \(realCRIU) "$@"
                """.write(toFile: oldCRIU, atomically: true, encoding: .utf8)
            let remote = scratch.path("remote-ferry")
            try "#!/bin/sh\nFERRY_CRIU=\(oldCRIU) exec \(Ferry.executable) \"$@\"\n".write(toFile: remote, atomically: true, encoding: .utf8)
            chmod(oldCRIU, 0o755)
            chmod(remote, 0o755)
            let sourceVersion = try Shell.run([realCRIU, "--version"]).split(separator: "\n").first.map { $0.dropFirst("Version: ".count) } ?? ""

            let dry = try a.migrate("old", to: 2, ["--dry-run", "--remote-ferry", remote])
            #expect(!dry.succeeded, "the dry run did not predict the refusal: \(dry.stdout)")
            #expect(dry.stderr.contains("CRIU: source \(sourceVersion), target 4.1.0"), "\(dry.stderr)")
            let real = try a.migrate("old", to: 2, ["--remote-ferry", remote])
            #expect(!real.succeeded && real.stderr.contains("CRIU: source \(sourceVersion), target 4.1.0"), "\(real.stderr)")
            #expect(!real.stderr.contains("freez"), "\(real.stderr)")
            #expect(try a.plain.ok(["status", "old"]).stdout.contains("running"))
            let before = try a.plain.counter("old")
            #expect(try eventually { try a.plain.counter("old") > before }, "the container was frozen")
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: hosts.root(2) + "/containers")) ?? []).isEmpty)

            // The same target with the real CRIU: the dry run passes.
            let fine = try a.migrate("old", to: 2, ["--dry-run"])
            #expect(fine.succeeded && fine.stdout.contains("dry run"), "\(fine.stderr)")
        }
    }
}
