import FerrySystem
import Foundation
import Testing

extension Integration {
    /// Network shares (`--share type=sshfs`): h3 is the file server, an sshd serving sftp
    /// over the test network; the container runs on h1 and h2, each of which mounts the
    /// shares itself. The workload (Tests/Fixtures/sharework.c) lives on them.
    @Suite struct Shares {
        /// Hosts, the two exports on the file server, and a container on h1 using them.
        struct Setup {
            let scratch: Scratch
            let hosts: TestHosts
            let exports: [String]

            init(_ name: String, command: [String], beforeStart: ([String]) throws -> Void = { _ in }) throws {
                scratch = try Scratch(name)
                do {
                    hosts = try TestHosts(scratch, count: 3)
                } catch {
                    scratch.cleanUp()
                    throw error
                }
                do {
                    try Self.prepare(scratch, hosts, command: command, beforeStart: beforeStart)
                } catch {
                    hosts.tearDown()
                    scratch.cleanUp()
                    throw error
                }
                exports = Self.exports(scratch)
            }

            static func exports(_ scratch: Scratch) -> [String] { [scratch.path("export1"), scratch.path("export2")] }

            private static func prepare(_ scratch: Scratch, _ hosts: TestHosts, command: [String], beforeStart: ([String]) throws -> Void) throws {
                let exports = exports(scratch)
                for export in exports { try FileManager.default.createDirectory(atPath: export, withIntermediateDirectories: true) }
                let rootfs = try Rootfs.busybox(in: scratch)
                try Fixtures.installShareWork(into: rootfs)
                let shares = zip(exports, ["/share", "/other"]).flatMap { export, target in
                    ["--share", "type=sshfs,source=h3:\(export),target=\(target),ssh-config=\(hosts.sshConfig)"]
                }
                try hosts.ferry(1).plain.ok(["create", "web", "--rootfs", rootfs] + shares + ["--"] + command)
                try beforeStart(exports)
                // Started inside h1's network namespace: h1 mounts the shares over its own link.
                let started = try hosts.ferry(1).run(["start", "web"])
                if !started.succeeded { throw TestFailure("start failed: \(started.stderr)") }
            }

            func tearDown() {
                hosts.tearDown()
                scratch.cleanUp()
            }

            /// The workload's own report: its iteration and whether every check held.
            func workload(on host: Int) throws -> (iteration: Int, ok: Bool, text: String) {
                let text = try hosts.ferry(host).plain.read("web", "/tmp/sharework")
                let iteration = Int(text.split(separator: " ").first?.dropFirst(2) ?? "") ?? -1
                return (iteration, text.hasSuffix(" ok"), text)
            }

            /// The share mounts this host holds for the container.
            func shareMounts(on host: Int) throws -> [String] {
                let prefix = hosts.root(host) + "/containers/web/shares/"
                return try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8).split(separator: "\n")
                    .map { $0.split(separator: " ").map(String.init) }.filter { $0.count > 4 && $0[4].hasPrefix(prefix) }.map { $0[4] }
            }
        }

        static let workload = ["/bin/sh", "-c", "mkdir -p /alias && mount --bind /share /alias && exec /bin/sharework /share /other"]

        /// Lines "00000001" … "0000000N" with none missing or doubled: the first wrong one.
        static func firstGap(in path: String) throws -> String? {
            let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
            for (index, line) in lines.enumerated() where Int(line) != index + 1 {
                return "line \(index + 1) is '\(line)'"
            }
            return lines.isEmpty ? "no line at all" : nil
        }

        @Test func theOpenFilesWorkloadSurvivesFourMigrations() throws {
            let setup = try Setup("shares-migrate", command: Self.workload)
            defer { setup.tearDown() }
            let hosts = setup.hosts
            #expect(try eventually(20) { try setup.workload(on: 1).iteration > 5 }, "the workload did not start on its shares")
            let mounts = try hosts.ferry(1).plain.run(["mounts", "web"])
            #expect(mounts.succeeded && mounts.stdout.contains("verdict: migratable"), "\(mounts.stdout)\(mounts.stderr)")
            var host = 1
            for round in 1...4 {
                let target = host == 1 ? 2 : 1
                let before = try setup.workload(on: host)
                #expect(before.ok, "round \(round), before: \(before.text)")
                let moved = try hosts.ferry(host).migrate("web", to: target)
                #expect(moved.succeeded, "round \(round) h\(host)→h\(target): \(moved.stderr)")
                if !moved.succeeded { return }
                // Goes on from where it was: never reset, and with every check holding.
                #expect(try eventually(20) { try setup.workload(on: target).iteration > before.iteration + 5 }, "round \(round): no progress on h\(target)")
                let after = try setup.workload(on: target)
                #expect(after.ok, "round \(round), after: \(after.text)")
                // The bind made inside the container and the share it shows: one superblock.
                let devices = try hosts.ferry(target).plain.exec("web", "stat -c %d /share /alias /other").split(separator: "\n")
                #expect(devices.count == 3 && devices[0] == devices[1] && devices[0] != devices[2], "st_dev of /share /alias /other: \(devices)")
                // Both locks, held by the restored workload in this kernel.
                let locks = try hosts.ferry(target).plain.exec("web", "cat /proc/locks")
                #expect(locks.contains("POSIX") && locks.contains("FLOCK"), "locks after round \(round): \(locks)")
                // The target mounted the shares; the source let go of them.
                let onTarget = try setup.shareMounts(on: target)
                let onSource = try setup.shareMounts(on: host)
                #expect(onTarget.count == 2, "h\(target) mounts \(onTarget)")
                #expect(onSource.isEmpty, "h\(host) still mounts \(onSource)")
                let status = try hosts.ferry(target).plain.ok(["status", "web"]).stdout
                #expect(status.contains("share:   sshfs h3:\(setup.exports[0]) at /share (mounted at \(hosts.root(target))"), "\(status)")
                host = target
            }
            let last = try setup.workload(on: host)
            try hosts.ferry(host).plain.ok(["stop", "web", "--timeout", "0"])
            #expect(try setup.shareMounts(on: host).isEmpty, "the stop left the shares mounted")
            // On the file server: every number the workload wrote, once, in order.
            for log in [setup.exports[0] + "/log", setup.exports[1] + "/log2"] {
                let gap = try Self.firstGap(in: log)
                #expect(gap == nil, "\(log): \(gap ?? "")")
                let count = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").count
                #expect(count >= last.iteration, "\(log) holds \(count) numbers, the workload had written \(last.iteration)")
            }
        }
    }
}

extension Integration.Shares {
    /// A FIFO made on the file server and opened in the container, and a file deleted while
    /// open: no path on the share brings them back, so the checkpoint stops and says why.
    @Test func hardCasesOnAShareAreReportedAndStopTheMigration() throws {
        let script = "exec 3<>/share/fifo; echo x > /share/gone; exec 4</share/gone; rm /share/gone; touch /tmp/ready; exec sleep 100000"
        let setup = try Setup("shares-hard", command: ["/bin/sh", "-c", script], beforeStart: { exports in
            try Shell.run(["mkfifo", exports[0] + "/fifo"])
        })
        defer { setup.tearDown() }
        let a = setup.hosts.ferry(1)
        #expect(try a.plain.waitFor("web", file: "/tmp/ready"))
        let mounts = try a.plain.run(["mounts", "web"])
        #expect(mounts.status == 1, "ferry mounts passed a FIFO and a deleted file on a share: \(mounts.stdout)")
        #expect(mounts.stdout.contains("FIFO /share/fifo"), "\(mounts.stdout)")
        #expect(mounts.stdout.contains("deleted from a network share"), "\(mounts.stdout)")
        // sshfs cannot hold a unix socket at all: the bind is refused in the container, so
        // none can be lost (the socket rule is for NFS; its unit test covers it).
        let bind = try a.plain.run(["exec", "web", "--", "/bin/sh", "-c", "nc -lU /share/sock & sleep 0.5; test -S /share/sock"])
        #expect(!bind.succeeded, "a unix socket was bound on the sshfs share")
        let moved = try a.migrate("web", to: 2)
        #expect(!moved.succeeded)
        #expect(moved.stderr.contains("FIFO /share/fifo"), "\(moved.stderr)")
        #expect(try a.plain.run(["exec", "web", "--", "true"]).succeeded, "the refused migration stopped the container")
    }
}

extension Integration.Shares {
    /// The file server's link is down: the target cannot mount the shares, so the
    /// migration is refused before the source freezes (its undo would need the same
    /// server), and the container runs on. With the link back, its I/O resumes by itself
    /// (sshfs reconnects) and the migration goes through.
    @Test func anUnreachableFileServerStopsTheMigrationBeforeTheFreeze() throws {
        let setup = try Setup("shares-unreachable", command: Integration.Shares.workload)
        defer { setup.tearDown() }
        let hosts = setup.hosts
        #expect(try eventually(20) { try setup.workload(on: 1).iteration > 5 })
        let server = try hosts.namespace(3)
        try Shell.run(["ip", "-n", server, "link", "set", "eth0", "down"])
        var linkUp = false
        defer { if !linkUp { _ = try? Shell.run(["ip", "-n", server, "link", "set", "eth0", "up"]) } }
        let refused = try hosts.ferry(1).migrate("web", to: 2)
        #expect(!refused.succeeded, "migrated while no host could reach the file server")
        #expect(refused.stderr.contains("cannot mount share h3:"), "\(refused.stderr)")
        #expect(try setup.shareMounts(on: 2).isEmpty, "the target kept a share mount")
        #expect(!FileManager.default.fileExists(atPath: hosts.root(2) + "/containers/web"), "the target kept the container")
        #expect(try hosts.ferry(1).plain.run(["exec", "web", "--", "true"]).succeeded, "the container does not run on the source")
        try Shell.run(["ip", "-n", server, "link", "set", "eth0", "up"])
        linkUp = true
        // While the server was away, sshfs on h1 failed the workload's writes with EIO
        // (its reconnect does not revive open handles): that is the source's own mount,
        // before any migration, and no placeholder stands in there.
        let moved = try hosts.ferry(1).migrate("web", to: 2)
        #expect(moved.succeeded, "\(moved.stderr)")
        // On h2 CRIU reopened the files on a fresh mount: new numbers reach the server.
        let log = setup.exports[0] + "/log"
        let lines = { try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").count }
        let atMove = try lines()
        #expect(try eventually(20) { try lines() > atMove + 10 }, "no write reached the file server after the migration")
    }
}
