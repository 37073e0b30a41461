import FerrySystem
import Foundation
import Testing

extension Integration {
    /// Root inside a hardened container stays inside it (SecurityProfile), before and after
    /// a checkpoint and restore. The same probes in a `--privileged` container show they
    /// can fail: there they reach the host.
    @Suite struct Isolation {
        struct Probe {
            let what: String
            /// Succeeds exactly when the escape works.
            let script: String
            /// Also tried in the privileged container, where it must work (nil: it would
            /// change the host there).
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
            ]
        }

        /// Capabilities (by number) in a CapBnd line's hex mask.
        static func capabilities(_ status: String) -> Set<Int32> {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("CapBnd:") }),
                let mask = UInt64(line.split(separator: "\t").last ?? "", radix: 16)
            else { return [] }
            return Set((0..<64).filter { mask & (1 << UInt64($0)) != 0 }.map(Int32.init))
        }

        static let dropped: Set<Int32> = [16, 17, 25, 30, 32, 33, 34, 35, 36]

        @Test func rootInsideAHardenedContainerCannotReachTheHost() throws {
            let scratch = try Scratch("isolation")
            defer { scratch.cleanUp() }
            let ferry = scratch.ferry
            let rootfs = try Rootfs.busybox(in: scratch)
            // A loop device of the test's own: the block device the container must not open.
            let backing = scratch.path("disk.img")
            try Shell.run(["truncate", "-s", "1M", backing])
            let loop = try Shell.run(["losetup", "--find", "--show", backing]).trimmingCharacters(in: .whitespacesAndNewlines)
            defer { _ = try? Shell.run(["losetup", "-d", loop]) }
            let number = DeviceNumber(try #require(fileStatus(loop)).st_rdev)
            let device = (major: number.major, minor: number.minor)
            let swappiness = try String(contentsOfFile: "/proc/sys/vm/swappiness", encoding: .utf8)

            try ferry.ok(["create", "hard", "--rootfs", rootfs, "--", "/bin/sh", "-c", ContainerLifecycle.counter])
            try ferry.ok(["create", "priv", "--privileged", "--rootfs", rootfs, "--", "/bin/sh", "-c", ContainerLifecycle.counter])
            try ferry.ok(["start", "hard"])
            try ferry.ok(["start", "priv"])
            defer {
                for name in ["hard", "priv"] { _ = try? ferry.run(["stop", name, "--timeout", "0"]) }
            }
            #expect(try ferry.ok(["status", "hard"]).stdout.contains("security: hardened"))
            #expect(try ferry.ok(["status", "priv"]).stdout.contains("security: privileged"))

            let check = { (moment: String) throws in
                for probe in Self.probes(device: device) {
                    let hardened = try ferry.run(["exec", "hard", "--", "/bin/sh", "-c", probe.script])
                    #expect(!hardened.succeeded, "\(moment): a hardened container could \(probe.what)")
                }
                for pid in ["1", "self"] {
                    let bounding = Self.capabilities(try ferry.exec("hard", "cat /proc/\(pid)/status"))
                    #expect(bounding.isDisjoint(with: Self.dropped), "\(moment): /proc/\(pid) keeps \(bounding.intersection(Self.dropped).sorted())")
                    #expect(bounding.contains(21), "\(moment): CAP_SYS_ADMIN is gone, systemd needs it")
                }
                // What is the container's own stays usable: its network sysctls, its devices.
                #expect(try ferry.run(["exec", "hard", "--", "/bin/sh", "-c", "v=$(cat /proc/sys/net/ipv4/ip_forward) && echo $v > /proc/sys/net/ipv4/ip_forward"]).succeeded, "\(moment): net sysctls are read-only")
                #expect(try ferry.run(["exec", "hard", "--", "/bin/sh", "-c", "head -c 4 /dev/urandom > /dev/null && echo x > /dev/null"]).succeeded, "\(moment): its own devices are closed")
            }
            try check("after start")
            for probe in Self.probes(device: device) where probe.triedPrivileged {
                let privileged = try ferry.run(["exec", "priv", "--", "/bin/sh", "-c", probe.script])
                #expect(privileged.succeeded, "the probe '\(probe.what)' proves nothing: it fails in a privileged container too")
            }

            // CRIU restores the bounding sets and mounts; the monitor re-applies the device rules.
            try ferry.ok(["checkpoint", "hard"])
            try ferry.ok(["restore", "hard"])
            try check("after checkpoint and restore")
            #expect(try String(contentsOfFile: "/proc/sys/vm/swappiness", encoding: .utf8) == swappiness, "the host's sysctl changed")
        }

        /// Symlinks planted in the rootfs where Ferry mounts /proc and /dev (and so the
        /// hardening binds and masks beneath them), one climbing out with '..', one absolute:
        /// every mount lands inside the rootfs, at start and at restore, and none on the host.
        @Test func plantedSymlinksCannotRedirectFerrysMountsOntoTheHost() throws {
            let scratch = try Scratch("isolation-planted")
            defer { scratch.cleanUp() }
            let ferry = scratch.ferry
            let rootfs = try Rootfs.busybox(in: scratch, named: "planted")
            let marker = "ferry-planted-\(getpid())"
            for (entry, target) in [("proc", "../../../../../../../../tmp/\(marker)-proc"), ("dev", "/tmp/\(marker)-dev")] {
                try? FileManager.default.removeItem(atPath: "\(rootfs)/\(entry)")
                try FileManager.default.createSymbolicLink(atPath: "\(rootfs)/\(entry)", withDestinationPath: target)
            }
            try FileManager.default.createDirectory(atPath: "\(rootfs)/tmp", withIntermediateDirectories: true)
            try ferry.ok(["create", "pl", "--rootfs", rootfs, "--", "/bin/sh", "-c", ContainerLifecycle.counter])
            let onHost = { ["/tmp/\(marker)-proc", "/tmp/\(marker)-dev"].filter { FileManager.default.fileExists(atPath: $0) } }
            let hostMounts = { (try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)).split(separator: "\n").filter { $0.contains(marker) && !$0.contains(rootfs) && !$0.contains(scratch.directory) } }
            let check = { (moment: String) throws in
                #expect(onHost().isEmpty, "\(moment): Ferry made \(onHost()) on the host")
                let strays = try hostMounts()
                #expect(strays.isEmpty, "\(moment): host mounts outside the rootfs: \(strays)")
                #expect(try ferry.exec("pl", "cat /proc/sys/vm/swappiness").trimmingCharacters(in: .whitespacesAndNewlines).allSatisfy(\.isNumber))
                #expect(!(try ferry.run(["exec", "pl", "--", "/bin/sh", "-c", "v=$(cat /proc/sys/vm/swappiness) && echo $v > /proc/sys/vm/swappiness"])).succeeded, "\(moment): /proc/sys is writable")
                #expect(try ferry.run(["exec", "pl", "--", "/bin/sh", "-c", "echo x > /dev/null && test -c /dev/null"]).succeeded, "\(moment): the container's /dev is missing")
            }
            try ferry.ok(["start", "pl"])
            defer { _ = try? ferry.run(["stop", "pl", "--timeout", "0"]) }
            try check("after start")
            try ferry.ok(["checkpoint", "pl"])
            try ferry.ok(["restore", "pl"])
            try check("after checkpoint and restore")
        }
    }
}
