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

            // vzctl's `enter`: root's login shell from the container's /etc/passwd, in its home.
            let passwd = try ferry.exec("x", "grep ^root: /etc/passwd").trimmingCharacters(in: .whitespacesAndNewlines)
            let home = String(passwd.split(separator: ":", omittingEmptySubsequences: false)[5])
            _ = try ferry.exec("x", "mkdir -p \(home)")
            let entered = try ferry.run(["enter", "x"], input: "echo in $(pwd) as $(id -u) home $HOME; exit 5\n")
            #expect(entered.status == 5 && entered.stdout.contains("in \(home) as 0 home \(home)"), "\(entered.status) \(entered.stdout) \(entered.stderr)")

            // destroy --force stops a running container first; without it, a clear refusal.
            let refused = try ferry.run(["destroy", "x"])
            #expect(!refused.succeeded && refused.stderr.contains("ferry stop x"), "\(refused.stderr)")
            #expect(try ferry.ok(["status", "x"]).stdout.contains("hostname: x"))
            #expect(try ferry.ok(["status", "x"]).stdout.contains("started: "))
            try ferry.ok(["destroy", "--force", "x"])
            #expect(!(try ferry.run(["status", "x"]).succeeded))
            let help = try ferry.ok(["--help"]).stdout
            #expect(!help.contains("agent") && !help.contains("__monitor") && !help.contains(" demo") && help.contains("enter"), "\(help)")
        }
    }
}
