import Foundation
import Testing

extension Integration {
    /// A checkpoint serves once: a second restore of the same images (which would roll the
    /// memory back) and a fresh start that would silently bypass them both ask first; a
    /// served checkpoint is replaced by the next one, an unserved one only with --force.
    @Suite struct CheckpointLifecycle {
        @Test func aCheckpointServesOnceUnlessForced() throws {
            let scratch = try Scratch("cr-lifecycle")
            defer { scratch.cleanUp() }
            let ferry = scratch.ferry
            let rootfs = try Rootfs.busybox(in: scratch)
            try ferry.ok(["create", "once", "--rootfs", rootfs, "--", "/bin/sh", "-c", Migration.counter])
            try ferry.ok(["start", "once"])
            #expect(try ferry.waitFor("once", file: "/counter"))

            try ferry.ok(["checkpoint", "once"])
            #expect(try ferry.ok(["status", "once"]).stdout.contains("not restored yet"))
            let start = try ferry.run(["start", "once"])
            #expect(!start.succeeded && start.stderr.contains("never restored") && start.stderr.contains("--fresh"), "\(start.stderr)")

            try ferry.ok(["restore", "once"])
            let dumped = try ferry.counter("once")
            #expect(try ferry.ok(["status", "once"]).stdout.contains("used by a restore"))
            // Three seconds past the dump, so the forced restore's way back is plain.
            #expect(try eventually { try ferry.counter("once") > dumped + 30 })
            let beforeStop = try ferry.counter("once")
            try ferry.ok(["stop", "once", "--timeout", "0"])
            let again = try ferry.run(["restore", "once"])
            #expect(!again.succeeded && again.stderr.contains("already served") && again.stderr.contains("--force"), "\(again.stderr)")
            // Forced: back to the dump's moment, as asked.
            try ferry.ok(["restore", "once", "--force"])
            // The file still says where it was until the restored loop writes again.
            #expect(try eventually { try ferry.counter("once") < beforeStop }, "the forced restore did not go back to the dump")

            // A served checkpoint is simply replaced; an unserved one needs --force.
            try ferry.ok(["checkpoint", "once", "--leave-running"])
            let replace = try ferry.run(["checkpoint", "once", "--leave-running"])
            #expect(!replace.succeeded && replace.stderr.contains("never restored") && replace.stderr.contains("--force"), "\(replace.stderr)")
            try ferry.ok(["checkpoint", "once", "--leave-running", "--force"])

            // A fresh start bypasses it, on request, and marks it used.
            try ferry.ok(["stop", "once", "--timeout", "0"])
            try ferry.ok(["start", "once", "--fresh"])
            #expect(try ferry.ok(["status", "once"]).stdout.contains("used by a fresh start"))
            try ferry.ok(["stop", "once", "--timeout", "0"])
            try ferry.ok(["start", "once"])
        }
    }
}
