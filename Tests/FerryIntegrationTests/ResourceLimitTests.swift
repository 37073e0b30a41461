import FerrySystem
import Foundation
import Testing

extension Integration {
    /// `--memory`/`--pids`/`--cpus` at create and `ferry set` after: enforced inside the
    /// container by its cgroups, still set after a live migration, changed live by `set`.
    @Suite struct ResourceLimits {
        /// The value of a cgroup v1 controller's `file` for the cgroup `pid` is in.
        static func cgroupValue(of pid: Int, controller: String, _ file: String) throws -> String {
            let lines = try String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8).split(separator: "\n")
            let line = try #require(lines.first { $0.split(separator: ":")[1].split(separator: ",").contains(Substring(controller)) }, "no \(controller) cgroup")
            let path = String(line.split(separator: ":", maxSplits: 2)[2])
            let directory = try #require(
                (try FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")).map { "/sys/fs/cgroup/\($0)" }
                    .first { $0.split(separator: "/").last!.split(separator: ",").contains(Substring(controller)) })
            return try String(contentsOfFile: "\(directory)\(path)/\(file)", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        }

        /// A process that wants more memory than the limit is OOM-killed inside; forks past
        /// the task limit are refused.
        static func expectEnforced(_ ferry: Ferry, _ name: String, where host: String) throws {
            // Without the limit memhog would fill 128 MiB and count for ever; timeout ends it (143).
            let hog = try ferry.run(["exec", name, "--", "timeout", "30", "/bin/memhog", "128"])
            #expect(hog.status == 137, "\(host): memhog 128 inside a 64 MiB container ended \(hog.status): \(hog.stderr)")
            let forks = try ferry.run(["exec", name, "--", "/bin/sh", "-c", "for i in $(seq 40); do sleep 3 & done; wait"])
            #expect(forks.stderr.contains("fork"), "\(host): 40 forks under --pids 16 were all allowed: \(forks.status) \(forks.stderr)")
            // The sleeps that did start end by themselves and the init (a shell) reaps
            // them: the tasks are free again.
            let pid = try statusPid(ferry, name)
            #expect(try eventually(20) { Int(try cgroupValue(of: pid, controller: "pids", "pids.current")) ?? 99 <= 3 }, "\(host): tasks stayed")
        }

        /// A tree at its task limit (zombies its init never reaps) restores: CRIU's helpers
        /// need tasks beyond the tree's, so the limit is set once the tree is back. With the
        /// limit set first, CRIU failed "Can't fork … Resource temporarily unavailable".
        @Test func aTreeAtItsTaskLimitIsRestored() throws {
            let scratch = try Scratch("limits-full")
            defer { scratch.cleanUp() }
            let ferry = scratch.ferry
            let rootfs = try Rootfs.busybox(in: scratch)
            try Fixtures.installMemhog(into: rootfs)
            try ferry.ok(["create", "full", "--rootfs", rootfs, "--pids", "16", "--", "/bin/memhog", "8"])
            try ferry.ok(["start", "full"])
            #expect(try ferry.waitFor("full", file: "/counter"))
            let forks = try ferry.run(["exec", "full", "--", "/bin/sh", "-c", "for i in $(seq 40); do sleep 0.2 & done; wait"])
            #expect(forks.stderr.contains("fork"), "\(forks.stderr)")
            let pid = try statusPid(ferry, "full")
            let used = try Self.cgroupValue(of: pid, controller: "pids", "pids.current")
            #expect((Int(used) ?? 0) >= 12, "the tree is not near its limit: \(used)")
            try ferry.ok(["checkpoint", "full"])
            try ferry.ok(["restore", "full"])
            let restored = try statusPid(ferry, "full")
            #expect(try Self.cgroupValue(of: restored, controller: "pids", "pids.max") == "16")
            let before = try ferry.counter("full")
            #expect(try eventually { try ferry.counter("full") > before })
        }

        @Test func limitsAreEnforcedKeptByMigrationAndChangedLive() throws {
            let scratch = try Scratch("limits")
            defer { scratch.cleanUp() }
            let hosts = try TestHosts(scratch)
            defer { hosts.tearDown() }
            let rootfs = try Rootfs.busybox(in: scratch)
            try Fixtures.installMemhog(into: rootfs)
            let (a, b) = (hosts.ferry(1), hosts.ferry(2))
            try a.plain.ok(["create", "lim", "--rootfs", rootfs, "--memory", "64M", "--pids", "16", "--cpus", "0.5", "--", "/bin/sh", "-c", Migration.counter])
            try a.plain.ok(["start", "lim"])
            #expect(try a.plain.waitFor("lim", file: "/counter", seconds: 30))
            #expect(try a.plain.ok(["status", "lim"]).stdout.contains("limits:  memory 64 MiB, cpus 0.5, pids 16"))
            var pid = try statusPid(a.plain, "lim")
            #expect(try Self.cgroupValue(of: pid, controller: "memory", "memory.limit_in_bytes") == "\(64 << 20)")
            #expect(try Self.cgroupValue(of: pid, controller: "cpu", "cpu.cfs_quota_us") == "50000")
            try Self.expectEnforced(a.plain, "lim", where: "h1")

            let moved = try a.migrate("lim", to: 2)
            #expect(moved.succeeded, "\(moved.stderr)")
            pid = try statusPid(b.plain, "lim")
            #expect(try Self.cgroupValue(of: pid, controller: "memory", "memory.limit_in_bytes") == "\(64 << 20)")
            #expect(try Self.cgroupValue(of: pid, controller: "pids", "pids.max") == "16")
            try Self.expectEnforced(b.plain, "lim", where: "h2 after the migration")

            // Live changes, and a refused one that changes nothing.
            try b.plain.ok(["set", "lim", "--pids", "64", "--cpus", "none"])
            #expect(try Self.cgroupValue(of: pid, controller: "pids", "pids.max") == "64")
            #expect(try Self.cgroupValue(of: pid, controller: "cpu", "cpu.cfs_quota_us") == "-1")
            let renamed = try b.plain.run(["set", "lim", "--hostname", "other", "--pids", "8"])
            #expect(!renamed.succeeded && renamed.stderr.contains("ferry stop lim"), "\(renamed.stderr)")
            #expect(try Self.cgroupValue(of: pid, controller: "pids", "pids.max") == "64", "a refused set changed the limit")
            #expect(try b.plain.ok(["status", "lim"]).stdout.contains("limits:  memory 64 MiB, pids 64"))

            // A stopped container takes a new hostname.
            try b.plain.ok(["stop", "lim"])
            try b.plain.ok(["set", "lim", "--hostname", "renamed", "--memory", "none"])
            try b.plain.ok(["start", "lim"])
            #expect(try b.plain.exec("lim", "hostname").trimmingCharacters(in: .whitespacesAndNewlines) == "renamed")
            pid = try statusPid(b.plain, "lim")
            #expect(try Self.cgroupValue(of: pid, controller: "pids", "pids.max") == "64")
            #expect((UInt64(try Self.cgroupValue(of: pid, controller: "memory", "memory.limit_in_bytes")) ?? 0) > 1 << 40, "the memory limit stayed")
        }
    }
}
