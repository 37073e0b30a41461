import Foundation
import Testing

extension Integration {
    /// System containers whose init is the guest's own systemd (scripts/make-rootfs
    /// debian-systemd), with a service in mount namespaces of its own.
    @Suite struct Systemd {
        /// A service that writes into its private /tmp, behind ProtectSystem=full.
        static let writer = """
            [Unit]
            Description=Ferry test: writes into its private /tmp

            [Service]
            PrivateTmp=yes
            ProtectSystem=full
            ExecStart=/bin/sh -c 'echo written-before > /tmp/state; i=0; while true; do i=$((i+1)); echo $i > /tmp/ticks.new; mv /tmp/ticks.new /tmp/ticks; sleep 0.1; done'

            [Install]
            WantedBy=multi-user.target

            """

        /// A Debian rootfs with systemd as init and `units` enabled (name → unit file).
        static func rootfs(in scratch: Scratch, units: [String: String] = [:]) throws -> String {
            let path = scratch.path("systemd-rootfs")
            try Shell.run([Repository.root + "/scripts/make-rootfs", "debian-systemd", path])
            for (name, text) in units {
                try text.write(toFile: "\(path)/etc/systemd/system/\(name)", atomically: true, encoding: .utf8)
                try FileManager.default.createSymbolicLink(
                    atPath: "\(path)/etc/systemd/system/multi-user.target.wants/\(name)", withDestinationPath: "/etc/systemd/system/\(name)")
            }
            return path
        }

        /// Waits for the boot to end; returns what `systemctl is-system-running` says then.
        static func booted(_ ferry: Ferry, _ name: String) throws -> String {
            var state = ""
            _ = try eventually(30) {
                state = (try ferry.run(["exec", name, "--", "systemctl", "is-system-running"])).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                return state != "starting" && state != "initializing" && !state.isEmpty
            }
            return state
        }

        /// The directories at the top of every cgroup hierarchy of the host.
        static func hostCgroupRoots() throws -> [String: Set<String>] {
            var result: [String: Set<String>] = [:]
            for hierarchy in try FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup") {
                let path = "/sys/fs/cgroup/\(hierarchy)"
                let entries = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
                result[hierarchy] = Set(entries.filter { entry in
                    var isDirectory: ObjCBool = false
                    return FileManager.default.fileExists(atPath: "\(path)/\(entry)", isDirectory: &isDirectory) && isDirectory.boolValue
                })
            }
            return result
        }

        /// The writer's state: its files in its private /tmp, and whether it has a mount
        /// namespace of its own.
        static func writerState(_ ferry: Ferry, _ name: String) throws -> (state: String, ticks: Int, ownNamespace: Bool) {
            let script = """
                pid=$(systemctl show -p MainPID --value writer.service)
                cat /proc/$pid/root/tmp/state; cat /proc/$pid/root/tmp/ticks
                [ "$(readlink /proc/$pid/ns/mnt)" != "$(readlink /proc/1/ns/mnt)" ] && echo own
                """
            let lines = try ferry.exec(name, script).split(separator: "\n").map(String.init)
            return (lines.first ?? "", lines.count > 1 ? Int(lines[1]) ?? -1 : -1, lines.last == "own")
        }

        @Test func bootsToRunningAndShutsDownCleanly() throws {
            let scratch = try Scratch("systemd-boot")
            defer { scratch.cleanUp() }
            let ferry = scratch.ferry
            let rootfs = try Self.rootfs(in: scratch)
            let before = try Self.hostCgroupRoots()
            try ferry.ok(["create", "web", "--rootfs", rootfs])
            try ferry.ok(["start", "web"])
            #expect(try Self.booted(ferry, "web") == "running")
            #expect(try ferry.exec("web", "systemctl --failed --no-legend --plain") == "")
            #expect(try ferry.exec("web", "cat /proc/1/comm") == "systemd\n")
            // /proc/sys is the container's own, bound read-only over itself.
            #expect(try ferry.exec("web", "grep ' /proc/sys ' /proc/self/mountinfo | cut -d' ' -f4,6") == "/sys ro,nosuid,nodev,noexec,relatime\n")
            // systemd's own cgroups live below the container's, never at the host's roots.
            #expect(try ferry.exec("web", "cat /proc/1/cgroup").contains("0::/init.scope"))
            let during = try Self.hostCgroupRoots()
            for (hierarchy, entries) in during {
                let new = entries.subtracting(before[hierarchy] ?? []).subtracting(["ferry"])
                #expect(new.isEmpty, "new cgroups at the root of \(hierarchy): \(new)")
            }
            #expect(try ferry.exec("web", "journalctl --no-pager -b -q | wc -l") != "0\n", "the journal does not answer")
            // With a terminal (-t): the container's own pty, and the admin's tools on it.
            let tty = try ferry.ok(["exec", "-t", "web", "--", "tty"]).stdout
            #expect(tty.hasPrefix("/dev/pts/"), "\(tty)")
            #expect(try ferry.ok(["exec", "-t", "web", "--", "systemctl", "is-system-running"]).stdout.contains("running"))
            let journal = try ferry.ok(["exec", "-t", "web", "--", "journalctl", "--no-pager", "-n", "5"]).stdout
            #expect(!journal.isEmpty && !journal.contains("No journal files"), "\(journal)")
            let status = try ferry.ok(["exec", "-t", "web", "--", "systemctl", "--no-pager", "status", "dbus.service"]).stdout
            #expect(status.contains("active (running)"), "\(status)")
            // A service sandboxed with PrivateNetwork= starts (hostnamed, on hostnamectl's
            // call) though a hardened container may not make a network namespace.
            #expect(try ferry.exec("web", "hostnamectl > /dev/null && systemctl is-active systemd-hostnamed") == "active\n")
            // A shell on the terminal: input typed (here piped), output, exit status passed on.
            let shell = try ferry.run(["exec", "-t", "web", "--", "/bin/bash"], input: "echo $((6*7)); tty; exit 5\n")
            #expect(shell.status == 5 && shell.stdout.contains("42") && shell.stdout.contains("/dev/pts/"), "\(shell.status) \(shell.stdout)")
            let stop = try ferry.ok(["stop", "web", "--timeout", "30"])
            #expect(stop.stdout.contains("shut down cleanly"), "\(stop.stdout)")
            try ferry.ok(["destroy", "web"])
            #expect(try Self.hostCgroupRoots() == before, "cgroups were left on the host")
        }

        @Test func privateTmpServiceSurvivesRestoreRelocationAndMigration() throws {
            let scratch = try Scratch("systemd-cr")
            defer { scratch.cleanUp() }
            let template = try Self.rootfs(in: scratch, units: ["writer.service": Self.writer])
            let hosts = try TestHosts(scratch)
            defer { hosts.tearDown() }
            let a = hosts.ferry(1)
            let b = hosts.ferry(2)
            // A private copy, not an overlay: overlayfs gives CRIU no file handles for the
            // inotify watches systemd keeps (see README, known gaps).
            try a.plain.ok(["create", "sys", "--rootfs", template])
            try a.plain.ok(["start", "sys"])
            #expect(try Self.booted(a.plain, "sys") == "running")
            let first = try Self.writerState(a.plain, "sys")
            #expect(first.state == "written-before" && first.ownNamespace, "\(first)")

            // Local checkpoint and restore.
            try a.plain.ok(["checkpoint", "sys", "--to", scratch.path("images")])
            try a.plain.ok(["restore", "sys", "--from", scratch.path("images")])
            try Self.expectAlive(a.plain, "sys", after: first.ticks)

            // Relocated: the container's directory restored under another state root.
            try a.plain.ok(["checkpoint", "sys", "--to", scratch.path("images-2")])
            let other = scratch.path("state-b/containers")
            try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
            try Shell.run(["cp", "-a", hosts.root(1) + "/containers/sys", other + "/sys"])
            try a.plain.ok(["destroy", "sys"])
            let relocated = scratch.secondHost()
            try relocated.ok(["restore", "sys", "--from", scratch.path("images-2")])
            try Self.expectAlive(relocated, "sys", after: first.ticks)
            // Back to host 1 the same way, to migrate from there.
            try relocated.ok(["checkpoint", "sys", "--to", scratch.path("images-3")])
            try Shell.run(["cp", "-a", other + "/sys", hosts.root(1) + "/containers/sys"])
            try relocated.ok(["destroy", "sys"])
            try a.plain.ok(["restore", "sys", "--from", scratch.path("images-3")])

            // Live migration A → B → A.
            let there = try a.migrate("sys", to: 2, ["--online"])
            #expect(there.succeeded, "\(there.stderr)")
            try Self.expectAlive(b.plain, "sys", after: first.ticks)
            let back = try b.migrate("sys", to: 1, ["--online"])
            #expect(back.succeeded, "\(back.stderr)")
            try Self.expectAlive(a.plain, "sys", after: first.ticks)
        }

        /// After a restore: the system is running, D-Bus and the journal answer, and the
        /// writer is still in its own namespace with its files, and still writing.
        static func expectAlive(_ ferry: Ferry, _ name: String, after ticks: Int, sourceLocation: SourceLocation = #_sourceLocation) throws {
            #expect(try Self.booted(ferry, name) == "running", sourceLocation: sourceLocation)
            let state = try Self.writerState(ferry, name)
            #expect(state.state == "written-before" && state.ownNamespace && state.ticks >= ticks, "\(state)", sourceLocation: sourceLocation)
            #expect(try eventually { try Self.writerState(ferry, name).ticks > state.ticks }, "the service does not run", sourceLocation: sourceLocation)
            #expect(try ferry.exec(name, "busctl --system list --no-pager | grep -c org.freedesktop.systemd1") == "1\n", sourceLocation: sourceLocation)
            #expect(try ferry.exec(name, "journalctl --no-pager -n 1 -q | wc -l") != "0\n", sourceLocation: sourceLocation)
        }

        @Test func aNonRootServiceIsRefusedBeforeFreezing() throws {
            let scratch = try Scratch("systemd-nobody")
            defer { scratch.cleanUp() }
            let ferry = scratch.ferry
            let unit = "[Service]\nUser=nobody\nExecStart=/bin/sleep infinity\n\n[Install]\nWantedBy=multi-user.target\n"
            let rootfs = try Self.rootfs(in: scratch, units: ["sleeper.service": unit])
            try ferry.ok(["create", "web", "--rootfs", rootfs])
            try ferry.ok(["start", "web"])
            #expect(try Self.booted(ferry, "web") == "running")
            let report = try ferry.run(["mounts", "web"])
            #expect(!report.succeeded && report.stdout.contains("(sleep)") && report.stdout.contains("uid/gid"), "\(report.stdout)")
            let refused = try ferry.run(["checkpoint", "web", "--to", scratch.path("images")])
            #expect(!refused.succeeded && refused.stderr.contains("(sleep) runs as uid/gid"), "\(refused.stderr)")
            #expect(!FileManager.default.fileExists(atPath: scratch.stateRoot + "/containers/web/dump.log"), "CRIU was started")
            #expect(try Self.booted(ferry, "web") == "running")
        }
    }
}
