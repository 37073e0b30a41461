import Foundation
import Testing

extension Integration {
    /// `ferry autostart`: starts the autostart containers that are not running, resumes one
    /// whose checkpoint was never restored, leaves the others alone, and reports a failure
    /// with a non-zero exit after trying every container.
    @Suite struct Autostart {
        @Test func startsOnlyTheAutostartContainersAndTriesEveryOne() throws {
            let scratch = try Scratch("autostart")
            defer { scratch.cleanUp() }
            let ferry = scratch.ferry
            let rootfs = try Rootfs.busybox(in: scratch)
            try Fixtures.installMemhog(into: rootfs)
            let loop = ["--", "/bin/sh", "-c", "while true; do sleep 1; done"]
            try ferry.ok(["create", "auto", "--rootfs", rootfs, "--autostart"] + loop)
            try ferry.ok(["create", "manual", "--rootfs", rootfs] + loop)
            #expect(try ferry.ok(["status", "auto"]).stdout.contains("autostart: yes"))
            #expect(try ferry.ok(["status", "manual"]).stdout.contains("autostart: no"))

            let first = try ferry.run(["autostart"])
            #expect(first.succeeded && first.stdout.contains("auto: started") && !first.stdout.contains("manual"), "\(first.stdout) \(first.stderr)")
            #expect(try ferry.ok(["status", "auto"]).stdout.contains("status:  running"))
            #expect(try ferry.ok(["status", "manual"]).stdout.contains("status:  stopped"))
            let list = try ferry.ok(["list"]).stdout
            #expect(list.contains("AUTO") && list.split(separator: "\n").contains { $0.hasPrefix("auto ") && $0.contains(" yes ") }, "\(list)")
            #expect(try ferry.ok(["autostart"]).stdout.contains("auto: already running"))

            // Turned on later with set; one checkpointed and never restored resumes its memory.
            try ferry.ok(["create", "mem", "--rootfs", rootfs, "--", "/bin/memhog", "16"])
            try ferry.ok(["set", "mem", "--autostart", "true"])
            try ferry.ok(["start", "mem"])
            #expect(try ferry.waitFor("mem", file: "/counter"))
            let sum = try ferry.read("mem", "/memsum")
            try ferry.ok(["checkpoint", "mem"])
            let counterAtDump = Int(try String(contentsOfFile: scratch.stateRoot + "/containers/mem/private/rootfs/counter", encoding: .utf8).trimmingCharacters(in: .newlines)) ?? -1

            // One that cannot start (its bind source is gone) fails; the others are still tried.
            let source = scratch.path("gone")
            try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
            try ferry.ok(["create", "broken", "--rootfs", rootfs, "--autostart", "--bind", "\(source):/mnt/gone"] + loop)
            try FileManager.default.removeItem(atPath: source)
            try ferry.ok(["stop", "auto", "--timeout", "0"])

            let second = try ferry.run(["autostart"])
            #expect(second.status == 1, "\(second.status) \(second.stdout) \(second.stderr)")
            #expect(second.stdout.contains("broken: failed:") && second.stdout.contains(source), "\(second.stdout)")
            #expect(second.stdout.contains("auto: started") && second.stdout.contains("mem: restored from its checkpoint"), "\(second.stdout)")
            #expect(second.stderr.contains("broken") && second.stderr.split(separator: "\n").count == 1, "\(second.stderr)")
            #expect(try ferry.ok(["status", "manual"]).stdout.contains("status:  stopped"))
            #expect(try ferry.counter("mem") >= counterAtDump, "the restored counter went back")
            #expect(try ferry.read("mem", "/memsum") == sum)
            #expect(try ferry.ok(["status", "mem"]).stdout.contains("used by a restore"))

            try ferry.ok(["set", "auto", "--autostart", "false"])
            try ferry.ok(["stop", "auto", "--timeout", "0"])
            let third = try ferry.run(["autostart"])
            #expect(!third.stdout.contains("auto:"), "\(third.stdout)")
            #expect(try ferry.ok(["status", "auto"]).stdout.contains("status:  stopped"))
        }
    }
}
