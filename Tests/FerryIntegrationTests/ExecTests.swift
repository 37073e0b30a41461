import FerrySystem
import Foundation
import Testing

extension Integration {
    /// `ferry exec` as a pipe and with a terminal, the way admins use it.
    @Suite struct Exec {
        @Test func pipesEndTerminalsWorkAndStatusesAreAShells() throws {
            let scratch = try Scratch("exec")
            defer { scratch.cleanUp() }
            let ferry = scratch.ferry
            try startLoopingContainer("x", in: scratch)

            // End of input reaches the command (it used to wait for ever: the helper kept
            // a copy of the pipe's write end).
            let cat = try ferry.run(["exec", "x", "--", "cat"], input: "hi\n")
            #expect(cat.status == 0 && cat.stdout == "hi\n", "\(cat.status) \(cat.stdout) \(cat.stderr)")
            let empty = try ferry.run(["exec", "x", "--", "wc", "-c"], input: "")
            #expect(empty.status == 0 && empty.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0")
            let devNull = try ferry.run(["exec", "x", "--", "cat"])
            #expect(devNull.status == 0 && devNull.stdout.isEmpty, "\(devNull.status) \(devNull.stderr)")

            // A shell's statuses: 127 not found, 126 not executable, the command's own otherwise.
            let missing = try ferry.run(["exec", "x", "--", "no-such-command"])
            #expect(missing.status == 127 && missing.stderr.contains("no-such-command"), "\(missing.status) \(missing.stderr)")
            let notExecutable = try ferry.run(["exec", "x", "--", "/etc/passwd"])
            #expect(notExecutable.status == 126, "\(notExecutable.status) \(notExecutable.stderr)")
            #expect(try ferry.run(["exec", "x", "--", "/bin/sh", "-c", "exit 7"]).status == 7)
            // Killed by signal N: 128+N, with pipes and with a terminal.
            #expect(try ferry.run(["exec", "x", "--", "/bin/sh", "-c", "kill -KILL $$"]).status == 128 + SIGKILL)
            #expect(try ferry.run(["exec", "-t", "x", "--", "/bin/sh", "-c", "kill -USR1 $$"]).status == 128 + SIGUSR1)

            // Options after NAME are ferry's; flags after -- are the command's.
            #expect(try ferry.ok(["exec", "x", "--cwd", "/tmp", "--env", "GREETING=hello", "--", "/bin/sh", "-c", "pwd; echo $GREETING"]).stdout == "/tmp\nhello\n")
            let grep = try ferry.run(["exec", "x", "--", "grep", "-v", "nothing-matches", "/etc/inittab"])
            #expect(grep.status == 0 && grep.stdout.contains("sysinit"), "\(grep.stderr)")

            // A terminal: the container's own pty; without -t, none.
            #expect(try ferry.ok(["exec", "-t", "x", "--", "tty"]).stdout.hasPrefix("/dev/pts/"))
            #expect(try ferry.run(["exec", "x", "--", "tty"]).stdout.contains("not a tty"))
            let shell = try ferry.run(["exec", "-t", "x", "--", "/bin/sh"], input: "echo $((6*7)); exit 4\n")
            #expect(shell.status == 4 && shell.stdout.contains("42"), "\(shell.status) \(shell.stdout)")
            // The end of input ends a shell at a terminal too, whether it comes before the
            // shell's line editor has set the terminal up (/dev/null) or while it runs a line.
            for _ in 1...5 {
                #expect(try ferry.run(["exec", "-t", "x", "--", "/bin/sh"], within: 20).status == 0)
                let piped = try ferry.run(["exec", "-t", "x", "--", "/bin/sh"], input: "echo piped-$((1+1))\n", within: 20)
                #expect(piped.status == 0 && piped.stdout.contains("piped-2"), "\(piped.status) \(piped.stdout)")
            }
            #expect(try ferry.run(["exec", "-t", "x", "--", "cat"], input: "a line\n", within: 20).stdout.contains("a line"))

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

        /// A shell at a terminal, driven through a real pty pair the way an admin types.
        @Test func aTerminalSessionIsAShellWithJobControl() throws {
            let scratch = try Scratch("exec-tty")
            defer { scratch.cleanUp() }
            let ferry = scratch.ferry
            try startLoopingContainer("t", in: scratch)
            let prompt = "ferry-test# "

            // No -t: stdin and stdout are a terminal, so the command gets one, of the
            // admin's window size, and follows a resize.
            let shell = try TerminalSession(
                ferry, ["exec", "t", "--env", "PS1=\(prompt)", "--", "/bin/sh"], rows: 33, columns: 101)
            defer { shell.close() }
            try shell.waitFor(prompt)
            try shell.command("tty; stty size", answers: ["/dev/pts/", "33 101"], prompt: prompt)
            try shell.resize(rows: 40, columns: 120)
            try shell.command("stty size", answers: ["40 120"], prompt: prompt)

            // Line editing: the up arrow brings the last line back (its text is not the answer).
            try shell.command("echo history-$((40+2))", answers: ["history-42"], prompt: prompt)
            try shell.command("\u{1b}[A", answers: ["history-42"], prompt: prompt)

            // The shell leads the terminal's session and holds its foreground at the prompt
            // (the quotes keep the typed line from matching the answer).
            try shell.command(
                "[ \"$(cut -d' ' -f6,8 /proc/$$/stat)\" = \"$$ $$\" ] && echo LEADS''SESSION", answers: ["LEADSSESSION"], prompt: prompt)

            // ^Z stops the foreground job and gives the prompt back, fg resumes it, ^C ends it.
            try shell.type("sleep 4250\n")
            #expect(try eventually { try processStates(ferry, "t", "sleep 4250") == ["S"] }, "\(shell.transcript)")
            try shell.type("\u{1a}")
            try shell.waitFor("Stopped")
            try shell.waitFor(prompt)
            #expect(try processStates(ferry, "t", "sleep 4250") == ["T"])
            try shell.type("fg\n")
            #expect(try eventually { try processStates(ferry, "t", "sleep 4250") == ["S"] }, "\(shell.transcript)")
            try shell.type("\u{03}")
            try shell.waitFor(prompt)
            #expect(try processStates(ferry, "t", "sleep 4250").isEmpty)

            // Ctrl-D at the prompt ends the shell, and ferry with its status.
            try shell.command("true", answers: [], prompt: prompt)
            try shell.type("\u{04}")
            #expect(try shell.exitStatus() == 0, "\(shell.transcript)")

            // -T: pipes although the admin is at a terminal, which keeps its ^C: the SIGINT
            // reaches ferry (only ferry: its helper left its process group), which passes it on.
            let piped = try TerminalSession(ferry, ["exec", "t", "-T", "--", "/bin/sh", "-c", "tty; exec sleep 4253"])
            defer { piped.close() }
            try piped.waitFor("not a tty")
            #expect(try eventually { try processStates(ferry, "t", "sleep 4253") == ["S"] }, "\(piped.transcript)")
            try piped.type("\u{03}")
            #expect(try piped.exitStatus() == 128 + SIGINT, "\(piped.transcript)")
            #expect(try processStates(ferry, "t", "sleep 4253").isEmpty)
            let both = try ferry.run(["exec", "-t", "-T", "t", "--", "true"])
            #expect(
                both.status != 0 && both.stderr.contains("-T") && both.stderr.split(separator: "\n").count == 1, "\(both.stderr)")

            // enter: root's login shell at a terminal, Ctrl-D leaves it.
            // Keys go in at a prompt: the shell's line editing has set its terminal up by
            // then, while a ^D typed ahead would meet the canonical mode between commands.
            let login = try TerminalSession(ferry, ["enter", "t"])
            defer { login.close() }
            try login.waitFor("# ")
            try login.command("echo $((6*7)); tty", answers: ["42", "/dev/pts/"], prompt: "# ")
            try login.type("\u{04}")
            #expect(try login.exitStatus() == 0, "\(login.transcript)")

            // A hang-up (SIGHUP to ferry) ends the shell and its jobs inside, background ones too.
            let hungUp = try TerminalSession(ferry, ["exec", "t", "--env", "PS1=\(prompt)", "--", "/bin/sh"])
            defer { hungUp.close() }
            try hungUp.waitFor(prompt)
            try hungUp.type("sleep 4251 & sleep 4252\n")
            #expect(try eventually { try processStates(ferry, "t", "sleep 425").count == 2 }, "\(hungUp.transcript)")
            #expect(try hungUp.settings().contains("-icanon"))
            try hungUp.signal(SIGHUP)
            #expect(try hungUp.exitStatus() == 128 + SIGHUP, "\(hungUp.transcript)")
            #expect(try processStates(ferry, "t", "sleep 425").isEmpty)
            // The admin's terminal is given its settings back.
            let settings = try hungUp.settings()
            #expect(settings.contains(" icanon") && settings.contains(" echo"), "\(settings)")
        }

        /// SIGTERM or SIGHUP to `ferry exec` end the command inside, and whatever it started
        /// in its session; what ignores the signal is killed after the grace period.
        @Test func signalsToFerryEndTheCommandInside() throws {
            let scratch = try Scratch("exec-signals")
            defer { scratch.cleanUp() }
            let ferry = scratch.ferry
            try startLoopingContainer("s", in: scratch)

            /// Starts `script` through ferry exec (stdin /dev/null), sends ferry `signal`
            /// once both sleeps marked `marker` run, and returns ferry's status.
            func end(_ script: String, marker: String, with signal: Int32, within seconds: Double) throws -> Int32 {
                let pid = try ferry.start(["exec", "s", "--", "/bin/sh", "-c", script])
                let process = try ProcessHandle(pid: pid)
                var status: Int32?
                defer {
                    if status == nil {
                        try? process.signal(SIGKILL)
                        _ = try? Spawn.wait(pid)
                    }
                }
                #expect(try eventually { try processStates(ferry, "s", marker).count == 2 })
                try process.signal(signal)
                guard process.waitForExit(seconds: seconds) else {
                    throw TestFailure("ferry exec did not end within \(seconds) s of signal \(signal)")
                }
                status = try Spawn.wait(pid)
                return status ?? -1
            }

            #expect(try end("sleep 4261 & sleep 4262", marker: "sleep 426", with: SIGTERM, within: 3) == 128 + SIGTERM)
            #expect(try processStates(ferry, "s", "sleep 426").isEmpty)
            #expect(try end("sleep 4271 & sleep 4272", marker: "sleep 427", with: SIGHUP, within: 3) == 128 + SIGHUP)
            #expect(try processStates(ferry, "s", "sleep 427").isEmpty)
            // A signal on the heels of the start, while ferry may still be joining the
            // container: whenever it lands, nothing of the command is left.
            for round in 1...3 {
                let pid = try ferry.start(["exec", "s", "--", "sleep", "429\(round)"])
                let process = try ProcessHandle(pid: pid)
                try process.signal(SIGTERM)
                guard process.waitForExit(seconds: 10) else {
                    try? process.signal(SIGKILL)
                    _ = try? Spawn.wait(pid)
                    throw TestFailure("ferry exec did not end within 10 s of a SIGTERM right after its start")
                }
                #expect(try Spawn.wait(pid) == 128 + SIGTERM)
                #expect(try processStates(ferry, "s", "sleep 429").isEmpty)
            }
            // Ignored (the sleeps inherit the ignored SIGTERM): SIGKILL after 5 s.
            let ignored = try end("trap '' TERM; sleep 4281 & sleep 4282", marker: "sleep 428", with: SIGTERM, within: 15)
            #expect(ignored == 128 + SIGKILL)
            #expect(try processStates(ferry, "s", "sleep 428").isEmpty)
        }
    }
}

/// The states (R, S, T, …) of the container's live processes whose command line starts
/// with `marker`, seen from the host through the container's pid namespace.
private func processStates(_ ferry: Ferry, _ name: String, _ marker: String) throws -> [Character] {
    let namespace = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(try statusPid(ferry, name))/ns/pid")
    return HostProcesses.inPidNamespace(namespace).compactMap { pid in
        guard let command = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
            String(decoding: command, as: UTF8.self).replacingOccurrences(of: "\0", with: " ").hasPrefix(marker),
            let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")"),
            let state = stat[stat.index(after: close)...].dropFirst().first, state != "Z"
        else { return nil }
        return state
    }
}

/// Creates and starts a busybox container named `name` whose init loops for ever.
private func startLoopingContainer(_ name: String, in scratch: Scratch) throws {
    let rootfs = try Rootfs.busybox(in: scratch)
    try scratch.ferry.ok(["create", name, "--rootfs", rootfs, "--", "/bin/sh", "-c", "while true; do sleep 1; done"])
    try scratch.ferry.ok(["start", name])
}
