import Foundation
import Testing

extension Integration.BadInput {
    /// A run.json Ferry cannot read leaves it unable to tell whether an init runs. Taking
    /// it for "stopped" would let `ferry start` clone a second init into the same rootfs;
    /// instead every command that acts refuses in one line naming the file, and changes
    /// nothing, while `ferry list` and `ferry status` say "unreadable".
    @Test func unreadableRunStateIsRefusedNotTakenForStopped() throws {
        let scratch = try Scratch("unreadable")
        defer { scratch.cleanUp() }
        let ferry = scratch.ferry
        let rootfs = try Rootfs.busybox(in: scratch)
        try ferry.ok(["create", "web", "--rootfs", rootfs, "--", "/bin/sh", "-c", "sleep 1000"])
        let runState = scratch.stateRoot + "/containers/web/run.json"
        try "{ \"initPid\": ".write(toFile: runState, atomically: true, encoding: .utf8)
        let before = try treeChecksum(scratch.stateRoot)

        let commands: [[String]] = [
            ["start", "web"], ["stop", "web"], ["stop", "web", "--timeout", "0"], ["exec", "web", "--", "true"],
            ["checkpoint", "web"], ["restore", "web"], ["migrate", "web", "nohost.invalid", "--offline"],
            ["destroy", "web"],
        ]
        for arguments in commands {
            let result = try ferry.run(arguments)
            #expect(result.status == 1, "ferry \(arguments) exited \(result.status): \(result.stderr)")
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1, "ferry \(arguments) printed \(lines.count) lines: \(result.stderr)")
            #expect(
                result.stderr.contains(runState) && result.stderr.contains("unreadable") && result.stderr.contains("remove the file"),
                "ferry \(arguments) does not name \(runState) and the fix: \(result.stderr)")
            #expect(try treeChecksum(scratch.stateRoot) == before, "ferry \(arguments) changed the state root")
        }

        let list = try ferry.ok(["list"]).stdout
        #expect(list.split(separator: "\n").contains { $0.hasPrefix("web ") && $0.contains("unreadable") }, "\(list)")
        let json = try ferry.ok(["list", "--json"]).stdout
        let entries = try JSONDocuments.containers(json)
        #expect(entries.first?["status"] as? String == "unreadable", "\(json)")
        #expect(entries.first?["pid"] is NSNull, "\(json)")
        let status = try ferry.ok(["status", "web"]).stdout
        #expect(status.contains("unreadable") && status.contains(runState), "\(status)")

        // Once the admin removes the file, as the message says, the container starts.
        try FileManager.default.removeItem(atPath: runState)
        try ferry.ok(["start", "web"])
        try ferry.ok(["stop", "web", "--timeout", "0"])
    }

    /// The dangerous case: run.json is damaged while the init runs. `ferry start` must not
    /// clone a second init next to the first.
    @Test func damagedRunStateOfARunningContainerStartsNoSecondInit() throws {
        let scratch = try Scratch("damaged")
        defer { scratch.cleanUp() }
        let ferry = scratch.ferry
        let rootfs = try Rootfs.busybox(in: scratch)
        try ferry.ok(["create", "web", "--rootfs", rootfs, "--", "/bin/sh", "-c", "sleep 1000"])
        try ferry.ok(["start", "web"])
        let runState = scratch.stateRoot + "/containers/web/run.json"
        let recorded = try Data(contentsOf: URL(fileURLWithPath: runState))
        // Whatever happens below, the init and monitor recorded here must not outlive the test.
        defer { Scratch.forceKill(recordedIn: recorded) }
        let state = try JSONSerialization.jsonObject(with: recorded) as? [String: Any]
        let cgroup = try #require(state?["cgroup"] as? String)
        let processes = try String(contentsOfFile: cgroup + "/cgroup.procs", encoding: .utf8)

        let garbage = Data("\u{0}\u{1}not json".utf8)
        try garbage.write(to: URL(fileURLWithPath: runState))
        let start = try ferry.run(["start", "web"])
        // A second monitor would have replaced the garbage with its own record: kill that one too.
        let after = try Data(contentsOf: URL(fileURLWithPath: runState))
        defer { Scratch.forceKill(recordedIn: after) }
        #expect(!start.succeeded, "a second start succeeded: \(start.stdout)")
        #expect(start.stderr.split(separator: "\n").count == 1 && start.stderr.contains(runState), "\(start.stderr)")
        #expect(try String(contentsOfFile: cgroup + "/cgroup.procs", encoding: .utf8) == processes, "start added processes")
        #expect(after == garbage, "start rewrote \(runState)")
        #expect(try ferry.ok(["list"]).stdout.contains("unreadable"))

        try recorded.write(to: URL(fileURLWithPath: runState))
        #expect(try ferry.ok(["list"]).stdout.contains("running"))
        try ferry.ok(["stop", "web", "--timeout", "0"])
    }
}
