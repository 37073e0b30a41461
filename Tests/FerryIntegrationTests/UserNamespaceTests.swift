import FerrySystem
import Foundation
import Testing

extension Integration {
    /// `--userns`: root inside is an ordinary id range on the host (LXD's unprivileged
    /// containers), through checkpoint, restore and migration.
    @Suite struct UserNamespaces {
        /// Escapes that need the host's root. Each writes back the value it read, so it is
        /// harmless where it works; all of them work in a `--privileged` container
        /// (checked below, so none proves nothing). The mount tricks are the ones a
        /// hardened container without a user namespace cannot stop (README, Isolation).
        static let escapes: [(what: String, script: String)] = [
            ("write a host-wide sysctl", "v=$(cat /proc/sys/vm/swappiness) && echo $v > /proc/sys/vm/swappiness"),
            // (A privileged container's /proc/sys is no mount of its own: the remount is
            // tried, the write is what counts.)
            ("remount /proc/sys read-write and write a host-wide sysctl",
             "mount -o remount,rw /proc/sys 2>/dev/null; v=$(cat /proc/sys/vm/swappiness) && echo $v > /proc/sys/vm/swappiness"),
            ("mount a fresh proc and write a host-wide sysctl through it",
             "mkdir -p /tmp/p && mount -t proc proc /tmp/p && v=$(cat /tmp/p/sys/vm/swappiness) && echo $v > /tmp/p/sys/vm/swappiness"),
            ("remount /sys read-write and write a host setting",
             "mount -o remount,rw /sys 2>/dev/null; v=$(cat /sys/kernel/mm/ksm/run) && echo $v > /sys/kernel/mm/ksm/run"),
            ("mount a fresh sysfs and write a host setting through it",
             "mkdir -p /tmp/s && mount -t sysfs sysfs /tmp/s && v=$(cat /tmp/s/kernel/mm/ksm/run) && echo $v > /tmp/s/kernel/mm/ksm/run"),
        ]

        /// Ids 0 (the container's root) and 1234 (a user it made) as the host sees them.
        static let user = (name: "bob", id: UInt32(1234))

        /// The three ways a private area holds the root: a copied directory and an ext4
        /// image are shifted at create; an overlay's template is idmapped at each mount.
        static let storages: [[String]] = [[], ["--storage", "insulated", "--image", "64M"], ["--overlay"]]

        @Test(arguments: storages)
        func rootInsideIsAnOrdinaryRangeThroughCheckpointRestoreAndMigration(storage: [String]) throws {
            let scratch = try Scratch("userns")
            defer { scratch.cleanUp() }
            let hosts = try TestHosts(scratch)
            defer { hosts.tearDown() }
            let rootfs = try Rootfs.busybox(in: scratch)
            try Fixtures.installHostReach(into: rootfs)
            let backing = scratch.path("disk.img")
            try Shell.run(["truncate", "-s", "1M", backing])
            let loop = try Shell.run(["losetup", "--find", "--show", backing]).trimmingCharacters(in: .whitespacesAndNewlines)
            defer { _ = try? Shell.run(["losetup", "-d", loop]) }
            let device = DeviceNumber(try #require(fileStatus(loop)).st_rdev)
            let a = hosts.ferry(1).plain
            let b = hosts.ferry(2).plain
            let swappiness = try String(contentsOfFile: "/proc/sys/vm/swappiness", encoding: .utf8)
            let ksm = try String(contentsOfFile: "/sys/kernel/mm/ksm/run", encoding: .utf8)

            let created = try a.ok(["create", "u", "--userns", "--rootfs", rootfs] + storage + ["--", "/bin/sh", "-c", Migration.counter])
            #expect(created.stdout.contains("user namespace 0-65535 inside = "), "\(created.stdout)")
            let map = try #require(try JSONDocuments.payload(a.ok(["status", "u", "--json"]).stdout, "container")["userNamespace"] as? [String: Any])
            let base = try #require((map["base"] as? Int).map(UInt32.init))
            #expect(base >= 1_000_000 && map["count"] as? Int == 65536, "\(map)")
            try a.ok(["start", "u"])
            #expect(try a.waitFor("u", file: "/counter"))
            #expect(try a.ok(["status", "u"]).stdout.contains("user namespace: 0-65535 inside = \(base)-\(base + 65535) on the host"))
            // A task of another user inside, left running (its ids must survive every move).
            _ = try a.exec("u", """
                echo '\(Self.user.name):x:\(Self.user.id):\(Self.user.id)::/tmp:/bin/sh' >> /etc/passwd
                setsid su \(Self.user.name) -s /bin/sh -c 'echo mine > /tmp/by-user; exec sleep 100000' < /dev/null > /dev/null 2>&1 &
                """)
            #expect(try a.waitFor("u", file: "/tmp/by-user"))

            let check = { (ferry: Ferry, host: Int, moment: String) throws in
                // The root as the host sees it while the container runs: the range owns it
                // (shifted at create, or the template seen through the idmapped lower).
                let rootfsOnHost = try #require(try JSONDocuments.payload(ferry.ok(["status", "u", "--json"]).stdout, "container")["rootfs"] as? String)
                #expect(fileStatus(rootfsOnHost + "/bin")?.st_uid == base, "\(moment): /bin is not the range's root's")
                // The init, seen from the host, is the range's first id; inside it is root.
                let pid = try statusPid(ferry, "u")
                let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
                for field in ["Uid:", "Gid:"] {
                    let line = status.split(separator: "\n").first { $0.hasPrefix(field) }.map(String.init) ?? ""
                    let ids = line.split(separator: "\t").dropFirst().compactMap { UInt32($0) }
                    #expect(ids == [base, base, base, base], "\(moment): init's \(line)")
                }
                #expect(try ferry.read("u", "/proc/self/uid_map").split(separator: " ").map(String.init) == ["0", "\(base)", "65536"])
                #expect(try ferry.exec("u", "id -u; id -g") == "0\n0\n", "\(moment)")
                // Files it makes belong to the range on the host; older ones kept theirs.
                let file = "made-\(moment.filter(\.isLetter))"
                _ = try ferry.exec("u", "echo x > /root/\(file)")
                #expect(fileStatus("\(rootfsOnHost)/root/\(file)").map { ($0.st_uid, $0.st_gid) } ?? (0, 0) == (base, base), "\(moment)")
                #expect(fileStatus("\(rootfsOnHost)/tmp/by-user")?.st_uid == base + Self.user.id, "\(moment): the user's file")
                #expect(try ferry.exec("u", "stat -c %u /tmp/by-user") == "\(Self.user.id)\n", "\(moment)")
                // The user's task runs on, as the user: inside, and on the host as base+id.
                #expect(try ferry.exec("u", "ps -o user,args").contains("\(Self.user.name)  "), "\(moment): the user's task is gone")
                #expect(HostProcesses.uids(of: "sleep 100000").contains(base + Self.user.id), "\(moment): no sleep runs as \(base + Self.user.id)")
                // Root inside cannot reach the host.
                let escapes = Self.escapes + Isolation.probes(device: (device.major, device.minor)).map { ($0.what, $0.script) }
                for escape in escapes {
                    #expect(!(try ferry.run(["exec", "u", "--", "/bin/sh", "-c", escape.script])).succeeded, "\(moment): root inside could \(escape.what)")
                }
                // What is its own works: its network sysctls, its devices, a terminal.
                #expect(try ferry.run(["exec", "u", "--", "/bin/sh", "-c", "v=$(cat /proc/sys/net/ipv4/ip_forward) && echo $v > /proc/sys/net/ipv4/ip_forward"]).succeeded, "\(moment)")
                #expect(try ferry.run(["exec", "u", "--", "/bin/sh", "-c", "head -c 4 /dev/urandom > /dev/null && echo x > /dev/null"]).succeeded, "\(moment)")
                #expect(try ferry.ok(["exec", "-t", "u", "--", "tty"]).stdout.hasPrefix("/dev/pts/"), "\(moment)")
            }
            try check(a, 1, "after start")
            try a.ok(["checkpoint", "u"])
            try a.ok(["restore", "u"])
            try check(a, 1, "after checkpoint and restore")
            let before = try a.counter("u")
            let moved = try hosts.ferry(1).migrate("u", to: 2)
            #expect(moved.succeeded, "\(moved.stderr)")
            #expect(try b.counter("u") >= before, "the counter was reset")
            try check(b, 2, "after migration")
            let back = try hosts.ferry(2).migrate("u", to: 1)
            #expect(back.succeeded, "\(back.stderr)")
            try check(a, 1, "after migrating back")
            #expect(try String(contentsOfFile: "/proc/sys/vm/swappiness", encoding: .utf8) == swappiness, "the host's sysctl changed")
            // A shared template is never shifted: other containers use it as it is.
            #expect(fileStatus(rootfs + "/bin")?.st_uid == 0, "the template's owners changed")
            #expect(try String(contentsOfFile: "/sys/kernel/mm/ksm/run", encoding: .utf8) == ksm, "the host's setting changed")

            // The same escapes work with the host's root: they are real.
            try a.ok(["create", "priv", "--privileged", "--rootfs", rootfs, "--", "/bin/sh", "-c", Migration.counter])
            try a.ok(["start", "priv"])
            defer { _ = try? a.run(["stop", "priv", "--timeout", "0"]) }
            for escape in Self.escapes {
                #expect(try a.run(["exec", "priv", "--", "/bin/sh", "-c", escape.script]).succeeded, "'\(escape.what)' proves nothing: it fails with the host's root too")
            }
        }

        /// Each container gets a range of its own; a target whose container holds the same
        /// range refuses the migration (CRIU cannot remap), and the source runs on.
        @Test func rangesAreOwnAndATakenRangeRefusesTheMigration() throws {
            let scratch = try Scratch("userns-ranges")
            defer { scratch.cleanUp() }
            let hosts = try TestHosts(scratch)
            defer { hosts.tearDown() }
            let rootfs = try Rootfs.busybox(in: scratch)
            let a = hosts.ferry(1).plain
            let b = hosts.ferry(2).plain
            for name in ["one", "two"] {
                try a.ok(["create", name, "--userns", "--rootfs", rootfs, "--", "/bin/sh", "-c", Migration.counter])
            }
            let bases = try ["one", "two"].map { name in
                try #require(try JSONDocuments.payload(a.ok(["status", name, "--json"]).stdout, "container")["userNamespace"] as? [String: Any])["base"] as? Int
            }
            #expect(bases[0] != nil && bases[1] != nil && bases[0] != bases[1], "\(bases)")
            // The target's own container got the first range too.
            try b.ok(["create", "theirs", "--userns", "--rootfs", rootfs, "--", "/bin/sh", "-c", Migration.counter])
            try a.ok(["start", "one"])
            #expect(try a.waitFor("one", file: "/counter"))
            let refused = try hosts.ferry(1).migrate("one", to: 2)
            #expect(!refused.succeeded)
            #expect(refused.stderr.contains("uid range \(bases[0] ?? 0)-") && refused.stderr.contains("taken"), "\(refused.stderr)")
            #expect(try a.ok(["status", "one"]).stdout.contains("running"))
            #expect(!FileManager.default.fileExists(atPath: hosts.root(2) + "/containers/one"))
            // Into a free range it goes.
            try b.ok(["destroy", "theirs"])
            let moved = try hosts.ferry(1).migrate("one", to: 2)
            #expect(moved.succeeded, "\(moved.stderr)")
        }

        @Test func aUserNamespaceWithTheHostsRootIsRefusedAtCreate() throws {
            let scratch = try Scratch("userns-refused")
            defer { scratch.cleanUp() }
            let ferry = scratch.ferry
            let rootfs = try Rootfs.busybox(in: scratch)
            for (options, words) in [(["--privileged"], "--userns and --privileged")] {
                let result = try ferry.run(["create", "bad", "--userns", "--rootfs", rootfs] + options)
                #expect(!result.succeeded && result.stderr.contains(words), "\(result.stderr)")
                #expect(result.stderr.split(separator: "\n").count == 1, "not one line: \(result.stderr)")
                #expect(!FileManager.default.fileExists(atPath: scratch.path("state/containers/bad")))
            }
        }
    }
}
