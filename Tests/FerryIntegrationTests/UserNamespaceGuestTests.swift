import FerrySystem
import Foundation
import Testing

extension Integration.UserNamespaces {
    /// A service of another user than root: on the host it runs as the range's base + 65534.
    static let sleeper = "[Service]\nUser=nobody\nExecStart=/bin/sleep 100065\n\n[Install]\nWantedBy=multi-user.target\n"

    /// The first host id of a container's range, from `ferry status --json`.
    static func rangeBase(_ ferry: Ferry, _ name: String) throws -> UInt32 {
        let map = try #require(try JSONDocuments.payload(ferry.ok(["status", name, "--json"]).stdout, "container")["userNamespace"] as? [String: Any])
        return try #require((map["base"] as? Int).map(UInt32.init))
    }

    /// The ids named in a file's access ACL (the kernel's xattr: a version, then entries of
    /// tag, permissions and id), read by python3 (Glibc's module has no xattr calls).
    static func aclIds(_ path: String) throws -> [UInt32] {
        let script = """
            import os, struct, sys
            v = os.getxattr(sys.argv[1], "system.posix_acl_access", follow_symlinks=False)
            print(" ".join(str(struct.unpack_from("<I", v, i + 4)[0]) for i in range(4, len(v), 8)))
            """
        return try Shell.run(["/usr/bin/python3", "-c", script, path]).split(whereSeparator: \.isWhitespace).compactMap { UInt32($0) }
    }

    /// Gives a file CAP_NET_RAW, permitted and effective, as ping has it (a version 2
    /// security.capability, which holds in every user namespace).
    static func giveRawCapability(_ path: String) throws {
        let script = """
            import os, struct, sys
            os.setxattr(sys.argv[1], "security.capability", struct.pack("<IIIII", 0x02000001, 1 << 13, 0, 0, 0), follow_symlinks=False)
            """
        try Shell.run(["/usr/bin/python3", "-c", script, path])
    }

    /// The host's view of a process: its real, effective, saved and filesystem uids.
    static func hostUids(of pid: Int) throws -> [UInt32] {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = status.split(separator: "\n").first { $0.hasPrefix("Uid:") }.map(String.init) ?? ""
        return line.split(separator: "\t").dropFirst().compactMap { UInt32($0) }
    }

    /// The owner, on the host, of a cgroup file of process `pid`: `relative` to its cgroup in
    /// the hierarchy mounted at `hierarchy` ("systemd", "memory", "unified").
    static func cgroupOwner(of pid: Int, in hierarchy: String, _ relative: String) throws -> UInt32? {
        let entries = try String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8).split(separator: "\n").map {
            $0.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
        }
        let key = hierarchy == "unified" ? "" : (hierarchy == "systemd" ? "name=systemd" : hierarchy)
        let path = try #require(entries.first { $0.count == 3 && $0[1] == key })[2]
        return fileStatus("/sys/fs/cgroup/\(hierarchy)\(path)/\(relative)")?.st_uid
    }

    /// Debian with its own init script (busybox init) and its system users: `_apt` (42)
    /// runs as the range's base + 42 on the host, through a checkpoint and a restore.
    @Test func aDebianRootfsAndItsSystemUsersRunThroughCheckpointAndRestore() throws {
        let scratch = try Scratch("userns-debian")
        defer { scratch.cleanUp() }
        let ferry = scratch.ferry
        let rootfs = scratch.path("debian")
        try Shell.run([Repository.root + "/scripts/make-rootfs", "debian", rootfs])
        // A program with a file capability (CAP_NET_RAW, as ping has one): the shift's chown
        // would drop it.
        try Shell.run(["cp", rootfs + "/bin/cat", rootfs + "/usr/local/bin/rawcat"])
        try Self.giveRawCapability(rootfs + "/usr/local/bin/rawcat")
        try ferry.ok(["create", "deb", "--userns", "--rootfs", rootfs])
        let base = try Self.rangeBase(ferry, "deb")
        try ferry.ok(["start", "deb"])
        #expect(try ferry.exec("deb", "cat /proc/1/comm") == "init\n")
        #expect(try Self.hostUids(of: try statusPid(ferry, "deb")) == [base, base, base, base])
        #expect(try ferry.exec("deb", "id -u _apt; id -u nobody") == "42\n65534\n")
        _ = try ferry.exec("deb", """
            setsid setpriv --reuid=_apt --regid=nogroup --clear-groups sh -c 'echo by-apt > /tmp/by-apt; exec sleep 100042' < /dev/null > /dev/null 2>&1 &
            """)
        #expect(try ferry.waitFor("deb", file: "/tmp/by-apt"))
        let check = { (moment: String) throws in
            #expect(HostProcesses.uids(of: "sleep 100042").contains(base + 42), "\(moment): _apt's task is not base + 42 on the host")
            #expect(try ferry.exec("deb", "ps -o user= -C sleep") == "_apt\n", "\(moment)")
            #expect(try ferry.exec("deb", "stat -c %U:%G /tmp/by-apt") == "_apt:nogroup\n", "\(moment)")
            #expect(fileStatus(scratch.stateRoot + "/containers/deb/private/rootfs/tmp/by-apt")?.st_uid == base + 42, "\(moment)")
            #expect(try ferry.exec("deb", "id -u; dpkg-query -W -f '${Status}' apt; apt-get -q check > /dev/null && echo ok") == "0\ninstall ok installedok\n", "\(moment)")
            let capabilities = try ferry.exec("deb", "setpriv --reuid=nobody --regid=nogroup --clear-groups /usr/local/bin/rawcat /proc/self/status | grep CapEff")
            #expect(capabilities == "CapEff:\t0000000000002000\n", "\(moment): the file capability is lost")
        }
        try check("after start")
        try ferry.ok(["checkpoint", "deb"])
        try ferry.ok(["restore", "deb"])
        #expect(try Self.hostUids(of: try statusPid(ferry, "deb")) == [base, base, base, base])
        try check("after checkpoint and restore")
        try ferry.ok(["stop", "deb", "--timeout", "20"])
    }

    /// systemd as init in a `--userns` container: it boots to running with every unit up,
    /// runs as the range on the host in cgroups delegated to it (its limits stay root's),
    /// and a PrivateTmp service and one of another user live on through a checkpoint and
    /// a restore, and a live migration to another host (fresh cgroups, delegated again).
    @Test func systemdBootsAndItsServicesSurviveCheckpointRestoreAndMigration() throws {
        let scratch = try Scratch("userns-systemd")
        defer { scratch.cleanUp() }
        let hosts = try TestHosts(scratch)
        defer { hosts.tearDown() }
        let a = hosts.ferry(1).plain
        let b = hosts.ferry(2).plain
        let rootfs = try Integration.Systemd.rootfs(in: scratch, units: ["writer.service": Integration.Systemd.writer, "sleeper.service": Self.sleeper])
        try a.ok(["create", "sys", "--userns", "--rootfs", rootfs])
        let base = try Self.rangeBase(a, "sys")
        try a.ok(["start", "sys"])
        #expect(try Integration.Systemd.booted(a, "sys") == "running")
        #expect(try a.exec("sys", "cat /proc/1/comm") == "systemd\n")
        let check = { (ferry: Ferry, moment: String) throws in
            #expect(try ferry.exec("sys", "systemctl --failed --no-legend --plain") == "", "\(moment)")
            let pid = try statusPid(ferry, "sys")
            #expect(try Self.hostUids(of: pid) == [base, base, base, base], "\(moment): the init is not the range's root on the host")
            #expect(try Self.cgroupOwner(of: pid, in: "systemd", ".") == base, "\(moment): init.scope is not the container's")
            #expect(try Self.cgroupOwner(of: pid, in: "unified", ".") == base, "\(moment)")
            #expect(try Self.cgroupOwner(of: pid, in: "memory", "../memory.limit_in_bytes") == 0, "\(moment): the container could change its own limit")
            #expect(HostProcesses.uids(of: "/bin/sleep 100065") == [base + 65534], "\(moment): the nobody service is not base + 65534 on the host")
        }
        try check(a, "after boot")
        // The rootfs's ACL on /var/log/journal names group adm (4): shifted with the owners,
        // systemd-tmpfiles can merge its own into it.
        let acl = try Self.aclIds(hosts.root(1) + "/containers/sys/private/rootfs/var/log/journal")
        #expect(acl.contains(base + 4) && !acl.contains(4), "\(acl)")
        #expect(try a.exec("sys", "journalctl -b -q --no-pager | grep -c 'ACL' || true") == "0\n")
        let first = try Integration.Systemd.writerState(a, "sys")
        #expect(first.state == "written-before" && first.ownNamespace, "\(first)")

        try a.ok(["checkpoint", "sys"])
        try a.ok(["restore", "sys"])
        try Integration.Systemd.expectAlive(a, "sys", after: first.ticks)
        try check(a, "after checkpoint and restore")

        let moved = try hosts.ferry(1).migrate("sys", to: 2, ["--online"])
        #expect(moved.succeeded, "\(moved.stderr)")
        try Integration.Systemd.expectAlive(b, "sys", after: first.ticks)
        try check(b, "after migration")

        let stop = try b.ok(["stop", "sys", "--timeout", "30"])
        #expect(stop.stdout.contains("shut down cleanly"), "\(stop.stdout)")
        try b.ok(["destroy", "sys"])
    }
}
