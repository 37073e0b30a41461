import Foundation
import Testing

extension Integration.BadInput {
    /// A `-v` after `--` belongs to the command run in the container (`grep -v`), not to
    /// Ferry: Ferry's errors stay one line unless its own `-v`/`--verbose` is given, and a
    /// command that fails passes its exit status and its own stderr through untouched.
    @Test func aCommandsDashVIsNotFerrysVerbose() throws {
        let scratch = try Scratch("verbose")
        defer { scratch.cleanUp() }
        let ferry = scratch.ferry
        let rootfs = try Rootfs.busybox(in: scratch)
        try ferry.ok(["create", "web", "--rootfs", rootfs, "--", "/bin/sh", "-c", "sleep 1000"])
        try ferry.ok(["start", "web"])

        let failing = try ferry.run(["exec", "web", "--", "grep", "-v", "x", "/nonexistent"])
        #expect(failing.status == 2, "grep's exit status was not passed through: \(failing.status)")
        #expect(failing.stderr.contains("/nonexistent") && !failing.stderr.contains("ferry:"), "\(failing.stderr)")
        try ferry.ok(["stop", "web", "--timeout", "0"])

        // An unreadable run state gives an error with a cause chain to show or hide.
        let runState = scratch.stateRoot + "/containers/web/run.json"
        try "garbage".write(toFile: runState, atomically: true, encoding: .utf8)
        let plain = try ferry.run(["exec", "web", "--", "grep", "-v", "x", "/etc/hostname"])
        #expect(plain.status == 1)
        let lines = plain.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines.first?.hasPrefix("ferry: ") == true, "not one line: \(plain.stderr)")
        #expect(!plain.stderr.contains("caused by"), "grep's -v made ferry verbose: \(plain.stderr)")
        for flag in ["-v", "--verbose"] {
            let verbose = try ferry.run(["exec", flag, "web", "--", "grep", "-v", "x", "/etc/hostname"])
            #expect(verbose.status == 1)
            #expect(verbose.stderr.contains("caused by"), "ferry exec \(flag) hid the cause chain: \(verbose.stderr)")
        }
    }
}
