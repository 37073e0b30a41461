import FerrySystem
import Foundation
import Testing

extension Integration {
    /// Root inside a hardened container stays inside it (SecurityProfile), before and after
    /// a checkpoint and restore and after an online migration to another host and back. The
    /// same probes in a `--privileged` container show they can fail: there they reach the host.
    @Suite struct Isolation {
        struct Probe {
            let what: String
            /// Succeeds exactly when the escape works.
            let script: String
            /// Also tried in the privileged container, where it must work (false: it would
            /// change the host there, or no profile can reach it; the probe says why).
            let triedPrivileged: Bool
        }

        /// Escape attempts, each harmless where it works: it writes back the value it read,
        /// reads one byte of the test's own loop device.
        static func probes(device: (major: UInt32, minor: UInt32)) -> [Probe] {
            [
                .init(what: "write a host-wide sysctl", script: "v=$(cat /proc/sys/vm/swappiness) && echo $v > /proc/sys/vm/swappiness", triedPrivileged: true),
                .init(what: "open a block device not its own", script: "mknod /tmp/blk b \(device.major) \(device.minor) && head -c 1 /tmp/blk > /dev/null", triedPrivileged: true),
                // This kernel has no modules (init_module: ENOSYS), no /proc/kcore and no
                // SysRq: the bounding set below shows CAP_SYS_MODULE gone, the other rules
                // apply where the entries exist.
                .init(what: "read the host's timers", script: "test -n \"$(head -c 1 /proc/timer_list)\"", triedPrivileged: true),
                .init(what: "see the host's cgroup paths", script: "grep -q ferry /proc/1/cgroup", triedPrivileged: true),
                // busybox date reports a refused clock change but exits 0: read what it says.
                .init(what: "set the clock", script: "! date -s \"$(date '+%Y-%m-%d %H:%M:%S')\" 2>&1 | grep -q 'not permitted'", triedPrivileged: false),
            ] + kernelProbes + remountProbes
        }

        /// Host-wide settings written back through /proc/sys or /sys made writable again: by a
        /// superblock remount (denied), a bind remount (allowed, but both come from read-only
        /// superblocks), a fresh sysfs (the same read-only superblock), a fresh proc or a bind
        /// of /proc without its submounts (writable, but the sysctl guard refuses the write).
        /// Each leaves no mount behind. (A privileged container's /proc/sys is no mount of
        /// its own: the remount is tried, the write is what counts.)
        static let remountProbes: [Probe] = [
            ("remount /proc/sys read-write", "mount -o remount,rw /proc/sys", "/proc/sys/vm/swappiness", ""),
            ("bind-remount /proc/sys read-write", "mount -o remount,bind,rw /proc/sys", "/proc/sys/vm/swappiness", ""),
            ("mount a fresh proc", "mkdir -p /tmp/p && mount -t proc proc /tmp/p", "/tmp/p/sys/vm/swappiness", "umount /tmp/p"),
            ("bind /proc without its submounts", "mkdir -p /tmp/b && mount --bind /proc /tmp/b", "/tmp/b/sys/vm/swappiness", "umount /tmp/b"),
            ("remount /sys read-write", "mount -o remount,rw /sys", "/sys/kernel/mm/ksm/run", ""),
            ("bind-remount /sys read-write", "mount -o remount,bind,rw /sys", "/sys/kernel/mm/ksm/run", ""),
            ("mount a fresh sysfs", "mkdir -p /tmp/s && mount -t sysfs sysfs /tmp/s", "/tmp/s/kernel/mm/ksm/run", "umount /tmp/s"),
        ].map { what, open, file, cleanup in
            let write = "\(open) 2>/dev/null; v=$(cat \(file)) && echo $v > \(file)"
            return Probe(what: "\(what) and write a host-wide setting", script: cleanup.isEmpty ? write : "\(write); r=$?; \(cleanup) 2>/dev/null; exit $r", triedPrivileged: true)
        }

        /// Kernel interfaces that act on the whole host, tried by /bin/hostreach (Fixtures;
        /// the rootfs must have it): open_by_handle_at (a host file by number), a BPF
        /// program, a perf counter of every task, the host root's keyring, swap, process
        /// accounting.
        static let kernelProbes: [Probe] = [
            ("handle", "open a host file by handle"), ("bpf", "load a BPF program"), ("perf", "count every task on the host"),
            ("keyring", "reach the host root's keyring"), ("swap", "switch the host's swap"), ("acct", "switch the host's process accounting"),
        ].map { Probe(what: $0.1, script: "/bin/hostreach \($0.0)", triedPrivileged: true) }

        /// Reaching for the host's cgroups and processes, each harmless where it works: it
        /// unmounts what it mounted, signals with 0 a process the test started (`sleep MARKER`).
        static func hostReachProbes(process: pid_t, marker: String) -> [Probe] {
            [
                // Mounted inside, a cgroup hierarchy shows the container's cgroup namespace:
                // its own cgroup as the root. The host's root holds /ferry, the parent of every
                // container's cgroup (this one's too), which must not show.
                .init(
                    what: "mount the host's freezer hierarchy",
                    script: "mkdir -p /tmp/cg && mount -t cgroup -o freezer cgroup /tmp/cg || exit 1; test -d /tmp/cg/ferry; r=$?; umount /tmp/cg; exit $r",
                    triedPrivileged: true),
                // A new v1 hierarchy has a release_agent at its root, which the kernel runs as
                // the host's root in the host's namespaces (CVE-2022-0492's way out). Root keeps
                // CAP_SYS_ADMIN here; its cgroup namespace is what refuses a new hierarchy.
                .init(
                    what: "mount a new cgroup hierarchy with a release_agent",
                    script: "mkdir -p /tmp/ch && mount -t cgroup -o none,name=ferry-probe cgroup /tmp/ch || exit 1; test -e /tmp/ch/release_agent; r=$?; umount /tmp/ch; exit $r",
                    triedPrivileged: true),
                // Every profile has its own pid namespace, the privileged one too, so no
                // container sees or signals a host process; `findsItsOwnProcess` shows the
                // same commands find and signal a process where one is in reach.
                .init(what: "see a host process", script: "grep -qs '\(pattern(marker))' /proc/[0-9]*/cmdline", triedPrivileged: false),
                .init(what: "signal a host process", script: "kill -0 \(process)", triedPrivileged: false),
            ]
        }

        /// Making a network namespace, whose fresh sysfs would be a new, writable superblock
        /// with the host's global files in it: refused where the container shares the host's
        /// user namespace (in its own, that sysfs is no one's to write).
        static let networkNamespaceProbe = Probe(
            what: "make a network namespace (whose fresh sysfs would be writable)", script: "/bin/hostreach netns", triedPrivileged: true)

        /// Acting on the whole filesystem behind a bind at /mnt/data (the test's own, mounted
        /// on the host): a superblock remount would make it read-only for the host too, a
        /// freeze would stop every writer on the host. Harmless where it works: the test
        /// remounts it read-write, the probe thaws at once.
        static let filesystemProbes: [Probe] = [
            .init(what: "remount the host's filesystem read-only", script: "mount -o remount,ro /mnt/data", triedPrivileged: true),
            .init(what: "freeze the host's filesystem", script: "/bin/hostreach freeze /mnt/data", triedPrivileged: true),
        ]

        /// A grep pattern for `marker` ('.' as '[.]') that the probe's own command line,
        /// which holds the pattern, does not match.
        static func pattern(_ marker: String) -> String { marker.replacingOccurrences(of: ".", with: "[.]") }

        /// An argument for `sleep` that no other process on the machine has.
        static func sleepMarker() -> String { "3600.\(getpid())\(UInt16.random(in: 1000...UInt16.max))" }

        /// The host-process probes, aimed at a process of the container's own: found and
        /// signalled, so that their failure against the host's process is no accident of syntax.
        static func findsItsOwnProcess() -> String {
            let marker = sleepMarker()
            return "sleep \(marker) & p=$!; grep -qs '\(pattern(marker))' /proc/[0-9]*/cmdline && kill -0 $p; r=$?; kill $p; exit $r"
        }

        /// Capabilities (by number) in a CapBnd line's hex mask.
        static func capabilities(_ status: String) -> Set<Int32> {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("CapBnd:") }),
                let mask = UInt64(line.split(separator: "\t").last ?? "", radix: 16)
            else { return [] }
            return Set((0..<64).filter { mask & (1 << UInt64($0)) != 0 }.map(Int32.init))
        }

        static let dropped: Set<Int32> = [2, 16, 17, 20, 25, 30, 32, 33, 34, 35, 36, 37, 38, 39]

        @Test func rootInsideAHardenedContainerCannotReachTheHost() throws {
            let scratch = try Scratch("isolation")
            defer { scratch.cleanUp() }
            let hosts = try TestHosts(scratch)
            defer { hosts.tearDown() }
            let (a, b) = (hosts.ferry(1), hosts.ferry(2))
            let rootfs = try Rootfs.busybox(in: scratch)
            try Fixtures.installHostReach(into: rootfs)
            // A loop device of the test's own: the block device the container must not open.
            let backing = scratch.path("disk.img")
            try Shell.run(["truncate", "-s", "1M", backing])
            let loop = try Shell.run(["losetup", "--find", "--show", backing]).trimmingCharacters(in: .whitespacesAndNewlines)
            defer { _ = try? Shell.run(["losetup", "-d", loop]) }
            let number = DeviceNumber(try #require(fileStatus(loop)).st_rdev)
            // A process of the test's own, killed by its pid: the process the container must not reach.
            let marker = Self.sleepMarker()
            let sleeper = try Spawn.start(["sleep", marker])
            defer {
                kill(sleeper, SIGKILL)
                _ = try? Spawn.wait(sleeper)
            }
            // A filesystem of the test's own on the host, bound into both containers.
            let image = scratch.path("fs.img")
            let hostFilesystem = scratch.path("fs")
            try Shell.run(["truncate", "-s", "16M", image])
            try Shell.run(["mkfs.ext4", "-q", image])
            try FileManager.default.createDirectory(atPath: hostFilesystem, withIntermediateDirectories: true)
            try Shell.run(["mount", "-o", "loop", image, hostFilesystem])
            defer { _ = try? Shell.run(["umount", hostFilesystem]) }
            try FileManager.default.createDirectory(atPath: hostFilesystem + "/data", withIntermediateDirectories: true)
            let bind = ["--bind", "\(hostFilesystem)/data:/mnt/data"]
            let hostCanWrite = { FileManager.default.createFile(atPath: hostFilesystem + "/written-by-the-host", contents: Data("x".utf8)) }
            let probes = Self.probes(device: (number.major, number.minor)) + Self.hostReachProbes(process: sleeper, marker: marker) + Self.filesystemProbes + [Self.networkNamespaceProbe]
            let swappiness = try String(contentsOfFile: "/proc/sys/vm/swappiness", encoding: .utf8)

            try a.plain.ok(["create", "hard", "--rootfs", rootfs] + bind + ["--", "/bin/sh", "-c", ContainerLifecycle.counter])
            try a.plain.ok(["create", "priv", "--privileged", "--rootfs", rootfs] + bind + ["--", "/bin/sh", "-c", ContainerLifecycle.counter])
            try a.plain.ok(["start", "hard"])
            try a.plain.ok(["start", "priv"])
            #expect(try a.plain.ok(["status", "hard"]).stdout.contains("security: hardened"))
            #expect(try a.plain.ok(["status", "priv"]).stdout.contains("security: privileged"))

            let check = { (ferry: Ferry, moment: String) throws in
                for probe in probes {
                    let hardened = try ferry.run(["exec", "hard", "--", "/bin/sh", "-c", probe.script])
                    #expect(!hardened.succeeded, "\(moment): a hardened container could \(probe.what)")
                }
                #expect(hostCanWrite(), "\(moment): the host's filesystem is no longer writable")
                for pid in ["1", "self"] {
                    let status = try ferry.exec("hard", "cat /proc/\(pid)/status")
                    // The init's own filter, restored by CRIU (exec installs one anew).
                    #expect(status.contains("\nSeccomp:\t2\n"), "\(moment): /proc/\(pid) has no seccomp filter")
                    let bounding = Self.capabilities(status)
                    #expect(bounding.isDisjoint(with: Self.dropped), "\(moment): /proc/\(pid) keeps \(bounding.intersection(Self.dropped).sorted())")
                    #expect(bounding.contains(21), "\(moment): CAP_SYS_ADMIN is gone, systemd needs it")
                }
                // What is the container's own stays usable: its network sysctls, its devices,
                // its processes, its cgroup (the root of a hierarchy mounted inside, its init in it).
                #expect(try ferry.run(["exec", "hard", "--", "/bin/sh", "-c", "v=$(cat /proc/sys/net/ipv4/ip_forward) && echo $v > /proc/sys/net/ipv4/ip_forward"]).succeeded, "\(moment): net sysctls are read-only")
                #expect(try ferry.run(["exec", "hard", "--", "/bin/sh", "-c", "head -c 4 /dev/urandom > /dev/null && echo x > /dev/null"]).succeeded, "\(moment): its own devices are closed")
                #expect(try ferry.run(["exec", "hard", "--", "/bin/sh", "-c", Self.findsItsOwnProcess()]).succeeded, "\(moment): the container cannot find or signal its own process")
                let ownCgroup = "mkdir -p /tmp/cg && mount -t cgroup -o freezer cgroup /tmp/cg || exit 1; grep -qx 1 /tmp/cg/tasks; r=$?; umount /tmp/cg; exit $r"
                #expect(try ferry.run(["exec", "hard", "--", "/bin/sh", "-c", ownCgroup]).succeeded, "\(moment): the container's init is not in the root of its freezer hierarchy")
            }
            try check(a.plain, "after start")
            for probe in probes where probe.triedPrivileged {
                let privileged = try a.plain.run(["exec", "priv", "--", "/bin/sh", "-c", probe.script])
                #expect(privileged.succeeded, "the probe '\(probe.what)' proves nothing: it fails in a privileged container too")
            }
            // The privileged remount reached the host's filesystem: shown, then undone.
            #expect(!hostCanWrite(), "a superblock remount inside a privileged container left the host's filesystem writable")
            try Shell.run(["mount", "-o", "remount,rw", hostFilesystem])
            try a.plain.ok(["stop", "priv", "--timeout", "0"])

            // CRIU restores the bounding sets and mounts; the monitor re-applies the device
            // rules, on this host and on a migration's target.
            try a.plain.ok(["checkpoint", "hard"])
            try a.plain.ok(["restore", "hard"])
            try check(a.plain, "after checkpoint and restore")
            let there = try a.migrate("hard", to: 2, ["--online"])
            #expect(there.succeeded, "\(there.stderr)")
            try check(b.plain, "after an online migration")
            let back = try b.migrate("hard", to: 1, ["--online"])
            #expect(back.succeeded, "\(back.stderr)")
            try check(a.plain, "after migrating back")
            #expect(try String(contentsOfFile: "/proc/sys/vm/swappiness", encoding: .utf8) == swappiness, "the host's sysctl changed")
            #expect(kill(sleeper, 0) == 0, "the host's process is gone")
        }

        /// `--allow-device tun` makes /dev/net/tun and lets it open, before and after a
        /// checkpoint and restore; a container without it has no node, and one it makes
        /// itself does not open. A name Ferry does not know is refused in one line.
        @Test func aTunDeviceOnlyWhereAsked() throws {
            let scratch = try Scratch("isolation-tun")
            defer { scratch.cleanUp() }
            let ferry = scratch.ferry
            let rootfs = try Rootfs.busybox(in: scratch)
            let typo = try ferry.run(["create", "bad", "--rootfs", rootfs, "--allow-device", "kvm"])
            #expect(!typo.succeeded && typo.stderr.contains("unknown device 'kvm' in --allow-device"), "\(typo.stderr)")
            #expect(!(try ferry.run(["status", "bad"])).succeeded, "a refused create left a container")
            try ferry.ok(["create", "vpn", "--rootfs", rootfs, "--allow-device", "tun", "--", "/bin/sh", "-c", ContainerLifecycle.counter])
            try ferry.ok(["create", "plain", "--rootfs", rootfs, "--", "/bin/sh", "-c", ContainerLifecycle.counter])
            try ferry.ok(["start", "vpn"])
            defer { _ = try? ferry.run(["stop", "vpn", "--timeout", "0"]) }
            try ferry.ok(["start", "plain"])
            defer { _ = try? ferry.run(["stop", "plain", "--timeout", "0"]) }
            #expect(try ferry.ok(["status", "vpn"]).stdout.contains("devices: /dev/net/tun"))
            let check = { (moment: String) throws in
                #expect(try ferry.run(["exec", "vpn", "--", "/bin/sh", "-c", "test -c /dev/net/tun && exec 3<>/dev/net/tun"]).succeeded, "\(moment): tun does not open")
                #expect(!(try ferry.run(["exec", "plain", "--", "/bin/sh", "-c", "test -e /dev/net/tun"])).succeeded, "\(moment): tun is there unasked")
                // The same hand-made node opens where tun is allowed: the device rule is what refuses.
                let made = "mkdir -p /tmp/net && rm -f /tmp/net/tun && mknod /tmp/net/tun c 10 200 && exec 3<>/tmp/net/tun"
                #expect(!(try ferry.run(["exec", "plain", "--", "/bin/sh", "-c", made])).succeeded, "\(moment): a tun node made inside opens unasked")
                #expect(try ferry.run(["exec", "vpn", "--", "/bin/sh", "-c", made]).succeeded, "\(moment): a hand-made tun node does not open even where allowed")
            }
            try check("after start")
            try ferry.ok(["checkpoint", "vpn"])
            try ferry.ok(["restore", "vpn"])
            try check("after checkpoint and restore")
        }

        /// Symlinks planted in the rootfs where Ferry mounts /proc and /dev (and so the
        /// hardening binds and masks beneath them), one climbing out with '..', one absolute,
        /// and at a `--bind` destination: every mount lands inside the rootfs or is refused,
        /// at start, at restore, on a migration's target and back, and none on the host.
        @Test func plantedSymlinksCannotRedirectFerrysMountsOntoTheHost() throws {
            let scratch = try Scratch("isolation-planted")
            defer { scratch.cleanUp() }
            let hosts = try TestHosts(scratch)
            defer { hosts.tearDown() }
            let (a, b) = (hosts.ferry(1), hosts.ferry(2))
            let rootfs = try Rootfs.busybox(in: scratch, named: "planted")
            let marker = "ferry-planted-\(getpid())"
            let planted = [("proc", "../../../../../../../../tmp/\(marker)-proc"), ("dev", "/tmp/\(marker)-dev")]
            for (entry, target) in planted {
                try? FileManager.default.removeItem(atPath: "\(rootfs)/\(entry)")
                try FileManager.default.createSymbolicLink(atPath: "\(rootfs)/\(entry)", withDestinationPath: target)
            }
            try FileManager.default.createDirectory(atPath: "\(rootfs)/tmp", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: "\(rootfs)/mnt/data", withIntermediateDirectories: true)
            let source = scratch.path("data")
            try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
            try "bound\n".write(toFile: source + "/note", atomically: true, encoding: .utf8)
            let bindOut = "/tmp/\(marker)-bind"
            try a.plain.ok(["create", "pl", "--rootfs", rootfs, "--bind", "\(source):/mnt/data", "--", "/bin/sh", "-c", Migration.counter])

            let onHost = { ["/tmp/\(marker)-proc", "/tmp/\(marker)-dev", bindOut].filter { FileManager.default.fileExists(atPath: $0) } }
            let hostMounts = { (try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)).split(separator: "\n").filter { $0.contains(marker) && !$0.contains(scratch.directory) } }
            let nothingOnTheHost = { (moment: String) throws in
                #expect(onHost().isEmpty, "\(moment): Ferry made \(onHost()) on the host")
                let strays = try hostMounts()
                #expect(strays.isEmpty, "\(moment): host mounts outside the rootfs: \(strays)")
            }
            let check = { (ferry: Ferry, host: Int, moment: String) throws in
                try nothingOnTheHost(moment)
                let containerRoot = hosts.root(host) + "/containers/pl/private/rootfs"
                for (entry, target) in planted {
                    let kept = try? FileManager.default.destinationOfSymbolicLink(atPath: "\(containerRoot)/\(entry)")
                    #expect(kept == target, "\(moment): /\(entry) in \(containerRoot) is no longer the planted symlink")
                }
                #expect(try ferry.exec("pl", "cat /proc/sys/vm/swappiness").trimmingCharacters(in: .whitespacesAndNewlines).allSatisfy(\.isNumber))
                #expect(!(try ferry.run(["exec", "pl", "--", "/bin/sh", "-c", "v=$(cat /proc/sys/vm/swappiness) && echo $v > /proc/sys/vm/swappiness"])).succeeded, "\(moment): /proc/sys is writable")
                #expect(try ferry.run(["exec", "pl", "--", "/bin/sh", "-c", "echo x > /dev/null && test -c /dev/null"]).succeeded, "\(moment): the container's /dev is missing")
                #expect(try ferry.read("pl", "/mnt/data/note") == "bound", "\(moment): the bind is missing")
            }
            try a.plain.ok(["start", "pl"])
            try check(a.plain, 1, "after start")

            // A symlink out of the rootfs at the bind's destination, planted while the
            // container is checkpointed: the restore is refused and leaves the host alone.
            try a.plain.ok(["checkpoint", "pl"])
            let destination = hosts.root(1) + "/containers/pl/private/rootfs/mnt/data"
            let plantAtTheBind = { (destination: String, target: String) throws in
                try FileManager.default.removeItem(atPath: destination)
                try FileManager.default.createSymbolicLink(atPath: destination, withDestinationPath: target)
            }
            let unplant = { (destination: String) throws in
                try FileManager.default.removeItem(atPath: destination)
                try FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: false)
            }
            // Out to a path the host lacks, and out to paths every root has (CRIU opens and
            // moves its mounts by path, following symlinks): refused before CRIU runs, and
            // nothing made, not even inside the rootfs where the symlink leads.
            for target in [bindOut, "/tmp", "../../../../../../../../../../tmp", "/"] {
                try plantAtTheBind(destination, target)
                let redirected = try a.plain.run(["restore", "pl"])
                try #require(!redirected.succeeded, "a restore bound \(source) through a symlink to \(target): \(redirected.stdout)")
                #expect(redirected.stderr.contains("goes through the symlink /mnt/data"), "\(target): \(redirected.stderr)")
                try nothingOnTheHost("after a restore onto a bind destination planted as a symlink to \(target)")
            }
            #expect(!FileManager.default.fileExists(atPath: hosts.root(1) + "/containers/pl/private/rootfs" + bindOut), "a refused restore created \(bindOut) in the rootfs")
            try unplant(destination)
            try a.plain.ok(["restore", "pl"])
            try check(a.plain, 1, "after checkpoint and restore")

            // The same symlink planted in the target's copy, just before the target restores:
            // the migration fails there and the container runs on here.
            let scene = MigrationFaults.Scene(scratch: scratch, hosts: hosts, name: "pl")
            let (migrate, output) = try scene.startMigration(["--online"], environment: ["FERRY_FAIL_AT": "restore-target:hold"])
            defer { if Spawn.reapIfExited(migrate) == nil { kill(migrate, SIGKILL); _ = try? Spawn.wait(migrate) } }
            #expect(try eventually(90) { MigrationFaults.processState(migrate) == "T" })
            let incoming = hosts.root(2) + "/containers/.pl.incoming/private/rootfs/mnt/data"
            #expect(FileManager.default.fileExists(atPath: incoming), "the target's copy of the rootfs is not at \(incoming)")
            try plantAtTheBind(incoming, bindOut)
            kill(migrate, SIGCONT)
            let status = try Spawn.wait(migrate)
            let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            #expect(status == 1 && text.contains("goes through the symlink /mnt/data"), "exit \(status): \(text)")
            #expect(text.contains("runs on the source and the target was cleaned"), "\(text)")
            try nothingOnTheHost("after a migration onto a planted bind destination")
            try scene.expectRunsOnSourceAgain(countedAtLeast: 0)
            try check(a.plain, 1, "after the refused migration")

            // An online migration there and back: rsync copies the planted symlinks as
            // symlinks, and the target resolves them inside its own copy of the rootfs.
            let there = try a.migrate("pl", to: 2, ["--online"])
            #expect(there.succeeded, "\(there.stderr)")
            try check(b.plain, 2, "after an online migration")
            let back = try b.migrate("pl", to: 1, ["--online"])
            #expect(back.succeeded, "\(back.stderr)")
            try check(a.plain, 1, "after migrating back")
        }

        /// A `--bind` destination that is a symlink out of the rootfs when the container
        /// starts: Ferry follows it inside the rootfs (RESOLVE_IN_ROOT), as the container's own
        /// processes would, and the host's path stays untouched.
        @Test func aBindThroughAPlantedSymlinkLandsInsideTheRootfs() throws {
            let scratch = try Scratch("isolation-planted-bind")
            defer { scratch.cleanUp() }
            let ferry = scratch.ferry
            let rootfs = try Rootfs.busybox(in: scratch, named: "planted")
            let bindOut = "/tmp/ferry-planted-bind-\(getpid())"
            try FileManager.default.createDirectory(atPath: "\(rootfs)/mnt", withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: "\(rootfs)/mnt/data", withDestinationPath: bindOut)
            let source = scratch.path("data")
            try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
            try "bound\n".write(toFile: source + "/note", atomically: true, encoding: .utf8)
            try ferry.ok(["create", "sym", "--rootfs", rootfs, "--bind", "\(source):/mnt/data", "--", "/bin/sh", "-c", ContainerLifecycle.counter])
            try ferry.ok(["start", "sym"])
            defer { _ = try? ferry.run(["stop", "sym", "--timeout", "0"]) }
            #expect(try ferry.read("sym", "/mnt/data/note") == "bound")
            #expect(try ferry.read("sym", bindOut + "/note") == "bound", "the bind is not where the symlink leads inside the rootfs")
            #expect(!FileManager.default.fileExists(atPath: bindOut), "Ferry made \(bindOut) on the host")
            let strays = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8).split(separator: "\n").filter { $0.contains(bindOut) }
            #expect(strays.isEmpty, "host mounts at \(bindOut): \(strays)")
        }
    }
}
