import CLinux
import FerrySystem
import Foundation
import Testing

extension Integration {
    /// The init's console: `ferry logs` before and after a checkpoint, a restore and a
    /// migration; `ferry console` through a real terminal; an init that dies at once.
    @Suite struct Console {
        /// Numbered lines on stdout and stderr, from a counter that lives in memory: after a
        /// restore the numbers go on, so the log shows whether anything was lost or repeated.
        static let ticker = "i=0; while true; do i=$((i+1)); echo tick $i; echo err $i >&2; sleep 0.1; done"

        /// The tick numbers in `text`, in order.
        static func ticks(_ text: String) -> [Int] {
            text.split(separator: "\n").compactMap { line in line.hasPrefix("tick ") ? Int(line.dropFirst(5)) : nil }
        }

        /// Every number once, in order, from 1: nothing lost, nothing shown twice.
        static func unbroken(_ ticks: [Int]) -> Bool {
            !ticks.isEmpty && ticks == Array(1...ticks.count)
        }

        @Test func logsKeepTheOutputAcrossACheckpointAndRestoreAndFollowIt() throws {
            let scratch = try Scratch("console-logs")
            defer { scratch.cleanUp() }
            let ferry = scratch.ferry
            let rootfs = try Rootfs.busybox(in: scratch)
            try ferry.ok(["create", "c", "--rootfs", rootfs, "--", "/bin/sh", "-c", Self.ticker])
            try ferry.ok(["start", "c"])
            #expect(try eventually { Self.ticks(try ferry.ok(["logs", "c"]).stdout).count >= 5 })
            let early = try ferry.ok(["logs", "c"]).stdout
            #expect(early.contains("err 1\n"), "stderr is not in the log: \(early)")
            let tail = try ferry.ok(["logs", "c", "--tail", "2"]).stdout
            #expect(tail.split(separator: "\n").count == 2 && tail.hasSuffix("\n"), "\(tail)")

            // A follower started before the checkpoint sees the restored init's output.
            let followed = scratch.path("followed")
            let sink = try OwnedFileDescriptor.open(followed, O_WRONLY | O_CREAT | O_TRUNC)
            let follower = try ferry.start(["logs", "-f", "c"], stdout: sink.rawValue)
            defer { Shell.stop(follower) }

            try ferry.ok(["checkpoint", "c"])
            let atCheckpoint = Self.ticks(try ferry.ok(["logs", "c"]).stdout)
            #expect(try ferry.ok(["status", "c"]).stdout.contains("status:  stopped"))
            #expect(!(try ferry.ok(["status", "c"]).stdout.contains("last exit")), "CRIU's kill was taken for an exit")
            try ferry.ok(["restore", "c"])
            let last = atCheckpoint.last ?? 0
            #expect(try eventually { (Self.ticks(try ferry.ok(["logs", "c"]).stdout).last ?? 0) > last + 3 })
            let all = Self.ticks(try ferry.ok(["logs", "c"]).stdout)
            #expect(Self.unbroken(all), "lost or repeated output across the restore: \(all)")
            #expect(try eventually { (Self.ticks(try String(contentsOfFile: followed, encoding: .utf8)).last ?? 0) > last + 3 })
            #expect(Self.unbroken(Self.ticks(try String(contentsOfFile: followed, encoding: .utf8))))

            // Bad input changes nothing and says what to give.
            let negative = try ferry.run(["logs", "c", "--tail=-1"])
            #expect(negative.status == 2 && negative.stderr.contains("--tail -1"), "\(negative.stderr)")
            let missing = try ferry.run(["logs", "nosuch"])
            #expect(!missing.succeeded && missing.stderr.contains("nosuch"), "\(missing.stderr)")
        }

        @Test func logsShowTheOutputBeforeAndAfterAMigrationThereAndBack() throws {
            try MigrationFaults.scene("console-migrate", container: "web", command: Self.ticker) { scene in
                #expect(try eventually { Self.ticks(try scene.a.plain.ok(["logs", "web"]).stdout).count >= 5 })
                for (from, to) in [(scene.a, scene.b), (scene.b, scene.a)] {
                    let before = Self.ticks(try from.plain.ok(["logs", "web"]).stdout).last ?? 0
                    let result = try from.migrate("web", to: to.host, ["--online"])
                    #expect(result.succeeded, "\(result.stderr)")
                    // The target shows what the init wrote on the source, then what it writes there.
                    #expect(try eventually { (Self.ticks(try to.plain.ok(["logs", "web"]).stdout).last ?? 0) > before + 3 })
                    let all = Self.ticks(try to.plain.ok(["logs", "web"]).stdout)
                    #expect(Self.unbroken(all), "lost or repeated output across the migration to h\(to.host): \(all)")
                    #expect(try to.plain.ok(["logs", "web"]).stdout.contains("err 1\n"))
                    // The source keeps nothing of it.
                    #expect(!(try from.plain.run(["logs", "web"]).succeeded))
                }
            }
        }

        @Test func anInitThatExitsAtOnceFailsTheStartWithItsStatusAndOutput() throws {
            let scratch = try Scratch("console-exit")
            defer { scratch.cleanUp() }
            let ferry = scratch.ferry
            let rootfs = try Rootfs.busybox(in: scratch)
            try ferry.ok(["create", "bad", "--rootfs", rootfs, "--", "/bin/sh", "-c", "echo starting; echo 'no /etc/app.conf' >&2; exit 3"])
            let start = try ferry.run(["start", "bad"])
            #expect(!start.succeeded)
            #expect(start.stderr.contains("init exited with status 3"), "\(start.stderr)")
            #expect(start.stderr.contains("starting") && start.stderr.contains("no /etc/app.conf"), "\(start.stderr)")
            // Nothing of it runs or stays mounted; status says how it ended.
            #expect(!FileManager.default.fileExists(atPath: scratch.stateRoot + "/containers/bad/run.json"))
            let status = try ferry.ok(["status", "bad"]).stdout
            #expect(status.contains("status:  stopped") && status.contains("last exit: status 3"), "\(status)")
            // As the schema says (docs/json), checked by the same validator as every document.
            let document = try Integration.MachineInterface.validated({ try ferry.run(["status", "bad", "--json"]) }, as: "status").stdout
            let json = try JSONSerialization.jsonObject(with: Data(document.utf8)) as? [String: Any]
            let container = json?["container"] as? [String: Any]
            #expect((container?["lastExit"] as? [String: Any])?["status"] as? Int == 3, "\(document)")
            #expect(try ferry.ok(["logs", "bad"]).stdout == "starting\nno /etc/app.conf\n")

            // A silent init that is done at once did not start either.
            try ferry.ok(["create", "silent", "--rootfs", rootfs, "--", "/bin/true"])
            let silent = try ferry.run(["start", "silent"])
            #expect(!silent.succeeded && silent.stderr.contains("status 0") && silent.stderr.contains("printed nothing"), "\(silent.stderr)")
            // An init that keeps running starts as before.
            try ferry.ok(["create", "good", "--rootfs", rootfs, "--", "/bin/sh", "-c", Self.ticker])
            try ferry.ok(["start", "good"])
            #expect(try ferry.ok(["status", "good"]).stdout.contains("status:  running"))
        }

        @Test func consoleAttachesThroughATerminalDetachesAndWorksAfterARestore() throws {
            let scratch = try Scratch("console-attach")
            defer { scratch.cleanUp() }
            let ferry = scratch.ferry
            let rootfs = try Rootfs.busybox(in: scratch)
            // A shell reading its stdin: the console's input is what it runs.
            try ferry.ok(["create", "sh", "--rootfs", rootfs, "--", "/bin/sh"])
            try ferry.ok(["start", "sh"])
            try attach(scratch, "sh", typing: "echo con$((6*7))sole", expecting: "con42sole")
            #expect(try ferry.ok(["status", "sh"]).stdout.contains("status:  running"), "the container did not run on after the detach")
            #expect(try ferry.ok(["logs", "sh"]).stdout.contains("con42sole"))

            // The restored shell reads the restoring monitor's pipe.
            try ferry.ok(["checkpoint", "sh"])
            try ferry.ok(["restore", "sh"])
            try attach(scratch, "sh", typing: "echo after$((1+1))restore", expecting: "after2restore")

            // A stopped container has no console; the error says what to do.
            try ferry.ok(["stop", "sh", "--timeout", "0"])
            let stopped = try ferry.run(["console", "sh"])
            #expect(!stopped.succeeded && stopped.stderr.contains("ferry logs"), "\(stopped.stderr)")
        }

        /// Runs `ferry console NAME` on a new terminal, types `line`, waits for `expected`,
        /// detaches with Ctrl-a q and expects a clean exit.
        private func attach(_ scratch: Scratch, _ name: String, typing line: String, expecting expected: String) throws {
            let terminal = try TestTerminal()
            let slave = terminal.slave.rawValue
            let console = try scratch.ferry.start(["console", name], stdin: slave, stdout: slave, stderr: slave)
            var exited = false
            defer { if !exited { Shell.stop(console) } }
            terminal.slave.close()
            #expect(terminal.waitFor("detach with Ctrl-a q"), "no banner: \(terminal.seen)")
            terminal.type(line + "\n")
            #expect(terminal.waitFor(expected), "the console did not show \(expected): \(terminal.seen)")
            terminal.type("\u{01}q")
            #expect(terminal.waitFor("Detached from \(name)"), "\(terminal.seen)")
            let status = try Spawn.wait(console)
            exited = true
            #expect(status == 0)
        }
    }
}

extension Ferry {
    /// Starts ferry in the background with the given stdio; the caller waits for it or
    /// stops it (Shell.stop).
    func start(_ arguments: [String], stdin: Int32? = nil, stdout: Int32? = nil, stderr: Int32? = nil) throws -> pid_t {
        var environment = ProcessInfo.processInfo.environment
        environment["FERRY_ROOT"] = root
        return try Spawn.start(
            [Self.executable] + arguments, environment: environment.map { "\($0)=\($1)" }, stdin: stdin, stdout: stdout, stderr: stderr)
    }
}

/// A pseudo-terminal for driving an interactive ferry command as an admin would.
final class TestTerminal {
    let master: OwnedFileDescriptor
    let slave: OwnedFileDescriptor
    private(set) var seen = ""

    init() throws {
        master = try OwnedFileDescriptor.open("/dev/ptmx", O_RDWR | O_NOCTTY)
        let peer = fy_pty_unlock(master.rawValue) == 0 ? fy_pty_peer(master.rawValue, O_RDWR | O_NOCTTY) : -1
        guard peer >= 0 else { throw TestFailure("no pseudo-terminal: errno \(errno)") }
        slave = OwnedFileDescriptor(taking: peer)
    }

    func type(_ text: String) {
        _ = DescriptorIO.writeAll(master.rawValue, Array(text.utf8)[...])
    }

    /// Reads what the terminal shows until `text` appears, for at most `seconds`.
    func waitFor(_ text: String, seconds: Double = 10) -> Bool {
        let deadline = Monotonic.now + seconds
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !seen.contains(text), Monotonic.now < deadline {
            var entries = [pollfd(fd: master.rawValue, events: Int16(POLLIN), revents: 0)]
            guard case .success(let ready) = DescriptorIO.poll(&entries, timeout: deadline - Monotonic.now), ready > 0,
                case .success(let count) = DescriptorIO.read(master.rawValue, into: &buffer), count > 0
            else { break }
            seen += String(decoding: buffer[..<count], as: UTF8.self)
        }
        return seen.contains(text)
    }
}
