import Foundation
import Testing

extension Integration {
    /// `ferry exec` as a pipe and with a terminal, the way admins use it.
    @Suite struct Exec {
        @Test func pipesEndTerminalsWorkAndStatusesAreAShells() throws {
            let scratch = try Scratch("exec")
            defer { scratch.cleanUp() }
            let ferry = scratch.ferry
            let rootfs = try Rootfs.busybox(in: scratch)
            try ferry.ok(["create", "x", "--rootfs", rootfs, "--", "/bin/sh", "-c", "while true; do sleep 1; done"])
            try ferry.ok(["start", "x"])

            // End of input reaches the command (it used to wait for ever: the helper kept
            // a copy of the pipe's write end).
            let cat = try ferry.run(["exec", "x", "--", "cat"], input: "hi\n")
            #expect(cat.status == 0 && cat.stdout == "hi\n", "\(cat.status) \(cat.stdout) \(cat.stderr)")
            let empty = try ferry.run(["exec", "x", "--", "wc", "-c"], input: "")
            #expect(empty.status == 0 && empty.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0")

            // A shell's statuses: 127 not found, 126 not executable, the command's own otherwise.
            let missing = try ferry.run(["exec", "x", "--", "no-such-command"])
            #expect(missing.status == 127 && missing.stderr.contains("no-such-command"), "\(missing.status) \(missing.stderr)")
            let notExecutable = try ferry.run(["exec", "x", "--", "/etc/passwd"])
            #expect(notExecutable.status == 126, "\(notExecutable.status) \(notExecutable.stderr)")
            #expect(try ferry.run(["exec", "x", "--", "/bin/sh", "-c", "exit 7"]).status == 7)

            // Options after NAME are ferry's; flags after -- are the command's.
            #expect(try ferry.ok(["exec", "x", "--cwd", "/tmp", "--env", "GREETING=hello", "--", "/bin/sh", "-c", "pwd; echo $GREETING"]).stdout == "/tmp\nhello\n")
            let grep = try ferry.run(["exec", "x", "--", "grep", "-v", "nothing-matches", "/etc/inittab"])
            #expect(grep.status == 0 && grep.stdout.contains("sysinit"), "\(grep.stderr)")

            // A terminal: the container's own pty; without -t, none.
            #expect(try ferry.ok(["exec", "-t", "x", "--", "tty"]).stdout.hasPrefix("/dev/pts/"))
            #expect(try ferry.run(["exec", "x", "--", "tty"]).stdout.contains("not a tty"))
            let shell = try ferry.run(["exec", "-t", "x", "--", "/bin/sh"], input: "echo $((6*7)); exit 4\n")
            #expect(shell.status == 4 && shell.stdout.contains("42"), "\(shell.status) \(shell.stdout)")
        }
    }
}
