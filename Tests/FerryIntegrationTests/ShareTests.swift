import FerrySystem
import Foundation
import Glibc
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
                try? serverLink(up: true)
                hosts.tearDown()
                scratch.cleanUp()
            }

            /// The file server's link (h3's eth0).
            func serverLink(up: Bool) throws {
                try Shell.run(["ip", "-n", try hosts.namespace(3), "link", "set", "eth0", up ? "up" : "down"])
            }

            /// Migrates web from h1 to h2 and loses the file server on the way: the migration
            /// is held at CRIU's post-dump (every image written, the tasks still frozen), the
            /// server's link goes down, and only then does it go on. (Down before the dump,
            /// sshfs on h1 would fail CRIU's own reads of the mapped file with EIO: a source
            /// must reach its shares to dump.) Returns ferry's exit status and output.
            func migrateLosingTheServer() throws -> (status: Int32?, output: String) {
                let output = scratch.path("migrate.out")
                _ = FileManager.default.createFile(atPath: output, contents: nil)
                let log = try OwnedFileDescriptor.open(output, O_WRONLY)
                var environment = ProcessInfo.processInfo.environment
                environment["FERRY_ROOT"] = hosts.root(1)
                environment["FERRY_FAIL_AT"] = "criu-post-dump:hold"
                let migrate = try Spawn.start(
                    ["nsenter", "--net=/run/netns/\(try hosts.namespace(1))", Ferry.executable, "migrate", "web", "h2", "--ssh-config", hosts.sshConfig],
                    environment: environment.map { "\($0)=\($1)" }, stdout: log.rawValue, stderr: log.rawValue)
                log.close()
                var exited: Int32?
                defer {
                    if exited == nil {
                        kill(migrate, SIGKILL)
                        _ = try? Spawn.wait(migrate)
                    }
                }
                let text = { (try? String(contentsOfFile: output, encoding: .utf8)) ?? "" }
                let stopped = {
                    ((try? String(contentsOfFile: "/proc/\(migrate)/stat", encoding: .utf8)) ?? "").split(separator: ")").last?.split(separator: " ").first == "T"
                }
                guard eventually(120, stopped) else { throw TestFailure("the migration never reached the dump: \(text())") }
                try serverLink(up: false)
                kill(migrate, SIGCONT)
                _ = eventually(120) {
                    exited = Spawn.reapIfExited(migrate)
                    return exited != nil
                }
                return (exited, text())
            }

            /// Stops the container and reads the logs on the file server: every number the
            /// workload wrote (at least `written`), once, in order, and no share left mounted.
            func stopAndCheckTheLogs(on host: Int, written: Int, sourceLocation: SourceLocation = #_sourceLocation) throws {
                try hosts.ferry(host).plain.ok(["stop", "web", "--timeout", "0"])
                #expect(try shareMounts(on: host).isEmpty, "the stop left the shares mounted", sourceLocation: sourceLocation)
                for log in [exports[0] + "/log", exports[1] + "/log2"] {
                    let gap = try Shares.firstGap(in: log)
                    #expect(gap == nil, "\(log): \(gap ?? "")", sourceLocation: sourceLocation)
                    let count = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").count
                    #expect(count >= written, "\(log) holds \(count) numbers, the workload had written \(written)", sourceLocation: sourceLocation)
                }
            }

            /// The pids of h2's placeholder daemons, from their records.
            func placeholderDaemons() -> [Int32] {
                (0..<2).compactMap { index in
                    let path = hosts.root(2) + "/containers/web/shares/\(index).placeholder.json"
                    guard let data = FileManager.default.contents(atPath: path),
                        let record = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
                    else { return nil }
                    return (record["pid"] as? NSNumber)?.int32Value
                }
            }

            /// The workload's own report: its iteration and whether every check held.
            func workload(on host: Int) throws -> (iteration: Int, ok: Bool, text: String) {
                Self.report(try hosts.ferry(host).plain.read("web", "/tmp/sharework"))
            }

            /// The same, or nil while the container does not run (a swap of shares is a
            /// checkpoint and restore: for a moment there is no container to exec into).
            func workloadIfRunning(on host: Int) -> (iteration: Int, ok: Bool, text: String)? {
                guard let result = try? hosts.ferry(host).plain.run(["exec", "web", "--", "cat", "/tmp/sharework"]), result.succeeded else { return nil }
                return Self.report(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
            }

            static func report(_ text: String) -> (iteration: Int, ok: Bool, text: String) {
                let iteration = Int(text.split(separator: " ").first?.dropFirst(2) ?? "") ?? -1
                return (iteration, text.hasSuffix(" ok"), text)
            }

            /// The filesystem type at each share's mount point on this host (shares/0, shares/1).
            func shareTypes(on host: Int) throws -> [String] {
                let points = (0..<2).map { hosts.root(host) + "/containers/web/shares/\($0)" }
                let lines = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8).split(separator: "\n")
                return points.map { point in
                    lines.map { $0.split(separator: " ").map(String.init) }
                        .last { $0.count > 4 && $0[4] == point }
                        .flatMap { fields in fields.firstIndex(of: "-").map { fields[$0 + 1] } } ?? "none"
                }
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
            #expect(eventually(60) { (setup.workloadIfRunning(on: 1)?.iteration ?? 0) > 5 }, "the workload did not start on its shares")
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
            try setup.stopAndCheckTheLogs(on: host, written: try setup.workload(on: host).iteration)
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
    /// The file server's link is down, so the target cannot mount the shares: the migration
    /// completes anyway, with Ferry's placeholder filesystem where each share belongs. The
    /// workload waits in it (its I/O blocks); with the link back, the placeholder serves
    /// from the returned share at once, and Ferry then swaps the real share in. Every
    /// number the workload wrote is on the file server, once, in order.
    @Test func aPlaceholderStandsInWhileTheFileServerIsAway() throws {
        let setup = try Setup("shares-away", command: Integration.Shares.workload)
        defer { setup.tearDown() }
        let hosts = setup.hosts
        #expect(eventually(60) { (setup.workloadIfRunning(on: 1)?.iteration ?? 0) > 5 }, "the workload did not start on its shares")
        let moved = try setup.migrateLosingTheServer()
        #expect(moved.status == 0, "the migration did not complete while the file server was away: \(moved.output)")
        if moved.status != 0 { return }
        let text = moved.output
        print("[shares] migration while the file server went away:\n\(text)")
        let mounted = try setup.shareTypes(on: 2)
        #expect(mounted == ["fuse.ferry-placeholder", "fuse.ferry-placeholder"], "\(mounted)")
        let status = try hosts.ferry(2).plain.ok(["status", "web"]).stdout
        #expect(status.contains("placeholder"), "\(status)")
        let refused = try hosts.ferry(2).plain.run(["checkpoint", "web"])
        #expect(!refused.succeeded && refused.stderr.contains("a placeholder stands in"), "\(refused.stderr)")
        let waiting = try setup.workload(on: 2)
        #expect(!waiting.text.contains("FAIL"), "\(waiting.text)")
        try setup.serverLink(up: true)
        // The share is back: the workload goes on, then the swap puts the real share in.
        #expect(try eventually(60) { (setup.workloadIfRunning(on: 2)?.iteration ?? 0) > waiting.iteration + 20 }, "no progress after the link came back: \(setup.workloadIfRunning(on: 2)?.text ?? "")")
        let record = hosts.root(2) + "/containers/web/share-swap.json"
        #expect(try eventually(60) { FileManager.default.fileExists(atPath: record) }, "the real shares were never swapped in")
        let swapped = try setup.shareTypes(on: 2)
        #expect(swapped == ["fuse.sshfs", "fuse.sshfs"], "\(swapped)")
        let inside = try hosts.ferry(2).plain.exec("web", "grep -c ferry-placeholder /proc/self/mountinfo || true")
        #expect(inside.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "the container still sees a placeholder")
        if let swap = try? String(contentsOfFile: record, encoding: .utf8) { print("[shares] swap: \(swap)") }
        #expect(try eventually(20) { setup.workloadIfRunning(on: 2) != nil }, "the container does not run after the swap")
        let afterSwap = try #require(setup.workloadIfRunning(on: 2))
        #expect(try eventually(20) { (setup.workloadIfRunning(on: 2)?.iteration ?? 0) > afterSwap.iteration + 10 }, "no progress after the swap")
        let last = try setup.workload(on: 2)
        #expect(last.ok, "after the swap: \(last.text)")
        let devices = try hosts.ferry(2).plain.exec("web", "stat -c %d /share /alias /other").split(separator: "\n")
        #expect(devices.count == 3 && devices[0] == devices[1] && devices[0] != devices[2], "st_dev of /share /alias /other: \(devices)")
        try setup.stopAndCheckTheLogs(on: 2, written: last.iteration)
    }
}

extension Integration.Shares {
    /// The admin stops a container whose workload waits in its placeholders (the file
    /// server is still away): SIGKILL lets the blocked calls go, the stop completes, and
    /// nothing of the placeholders is left: no mount, no daemon.
    @Test func aContainerWaitingInItsPlaceholdersStops() throws {
        let setup = try Setup("shares-away-stop", command: Integration.Shares.workload)
        defer { setup.tearDown() }
        let hosts = setup.hosts
        #expect(eventually(60) { (setup.workloadIfRunning(on: 1)?.iteration ?? 0) > 5 }, "the workload did not start on its shares")
        let moved = try setup.migrateLosingTheServer()
        #expect(moved.status == 0, "the migration did not complete while the file server was away: \(moved.output)")
        if moved.status != 0 { return }
        let daemons = setup.placeholderDaemons()
        #expect(daemons.count == 2, "h2 holds no placeholders")
        // Blocked: the workload's report no longer moves.
        let first = try setup.workload(on: 2)
        #expect(try eventually(10) { try setup.workload(on: 2).iteration == first.iteration }, "the workload does not wait in the placeholder")
        let stopped = try hosts.ferry(2).plain.run(["stop", "web", "--timeout", "1"])
        #expect(stopped.succeeded, "\(stopped.stderr)")
        let types = try setup.shareTypes(on: 2)
        #expect(types == ["none", "none"], "\(types)")
        let lingering = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8).contains(hosts.root(2) + "/containers/web/shares/")
        #expect(!lingering, "a share or return mount is left on h2")
        for pid in daemons {
            let state = ((try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? "").split(separator: ")").last?.split(separator: " ").first
            #expect(state == nil || state == "Z", "placeholder daemon \(pid) still runs (\(state ?? ""))")
        }
    }
}
