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

            init(_ name: String, command: [String]) throws {
                scratch = try Scratch(name)
                hosts = try TestHosts(scratch, count: 3)
                exports = [scratch.path("export1"), scratch.path("export2")]
                for export in exports { try FileManager.default.createDirectory(atPath: export, withIntermediateDirectories: true) }
                let rootfs = try Rootfs.busybox(in: scratch)
                try Fixtures.installShareWork(into: rootfs)
                let shares = zip(exports, ["/share", "/other"]).flatMap { export, target in
                    ["--share", "type=sshfs,source=h3:\(export),target=\(target),ssh-config=\(hosts.sshConfig)"]
                }
                try hosts.ferry(1).plain.ok(["create", "web", "--rootfs", rootfs] + shares + ["--"] + command)
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
