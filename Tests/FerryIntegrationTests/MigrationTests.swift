import FerrySystem
import Foundation
import Testing

extension Integration {
    @Suite struct Migration {
        static let counter = "i=0; while true; do i=$((i+1)); echo $i > /counter; sleep 0.1; done"

        /// Host files for --bind, at the same path on both simulated hosts (one machine).
        static func bindSources(_ scratch: Scratch) throws -> [String] {
            let resolv = scratch.path("binds/resolv.conf")
            let secrets = scratch.path("binds/secrets")
            try FileManager.default.createDirectory(atPath: secrets, withIntermediateDirectories: true)
            try "nameserver 192.0.2.53\n".write(toFile: resolv, atomically: true, encoding: .utf8)
            try "s3cret\n".write(toFile: secrets + "/token", atomically: true, encoding: .utf8)
            return ["--bind", "\(resolv):/etc/resolv.conf", "--bind", "\(secrets):/run/secrets:ro"]
        }

        @Test func onlineMigrationMovesARunningContainer() throws {
            let scratch = try Scratch("migrate-online")
            defer { scratch.cleanUp() }
            let hosts = try TestHosts(scratch)
            defer { hosts.tearDown() }
            let template = try Rootfs.busybox(in: scratch, named: "template")
            try Fixtures.installMemhog(into: template)
            let a = hosts.ferry(1)
            let b = hosts.ferry(2)
            try a.plain.ok(["create", "web", "--rootfs", template, "--overlay"] + (try Self.bindSources(scratch)) + ["--", "/bin/memhog", "64"])
            try a.plain.ok(["start", "web"])
            #expect(try a.plain.waitFor("web", file: "/counter"))
            let sum = try a.plain.read("web", "/memsum")
            let before = try a.plain.counter("web")

            let result = try a.migrate("web", to: 2, ["--online", "--json"])
            #expect(result.succeeded, "\(result.stderr)")
            let summary = try JSONDocuments.migrationSummary(result.stdout)
            #expect((summary["frozenSeconds"] as? Double ?? 0) > 0)
            #expect((summary["imageBytes"] as? Int ?? 0) > 64 << 20, "the 64 MiB did not cross the wire: \(result.stdout)")

            #expect(try b.plain.counter("web") >= before, "the counter was reset")
            let now = try b.plain.counter("web")
            #expect(try eventually { try b.plain.counter("web") > now })
            #expect(try b.plain.read("web", "/memsum") == sum)
            #expect(try b.plain.read("web", "/etc/resolv.conf") == "nameserver 192.0.2.53")
            #expect(try b.plain.read("web", "/run/secrets/token") == "s3cret")
            #expect(isMountPoint(hosts.root(2) + "/containers/web/rootfs"), "no overlay root on B")
            // Nothing of the container remains on A.
            #expect(!FileManager.default.fileExists(atPath: hosts.root(1) + "/containers/web"))
            #expect(!FileManager.default.fileExists(atPath: hosts.root(1) + "/migrations/web.json"))
            let mountsOnA = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
            #expect(!mountsOnA.contains(hosts.root(1) + "/containers/web"))
            // And back again.
            let back = try b.migrate("web", to: 1)
            #expect(back.succeeded, "\(back.stderr)")
            #expect(try a.plain.read("web", "/memsum") == sum)
        }

        @Test func offlineMigrationOfStoppedContainers() throws {
            let scratch = try Scratch("migrate-offline")
            defer { scratch.cleanUp() }
            let hosts = try TestHosts(scratch)
            defer { hosts.tearDown() }
            let rootfs = try Rootfs.busybox(in: scratch)
            let a = hosts.ferry(1)
            let b = hosts.ferry(2)
            let insulated = ["--storage", "insulated", "--image", "64M"]
            let cases: [(name: String, storage: [String], target: [String])] = [
                ("shared-shared", [], []), ("shared-insulated", [], ["--dst-storage", "insulated", "--dst-image", "64M"]),
                ("insulated-shared", insulated, ["--dst-storage", "shared"]), ("insulated-insulated", insulated, []),
            ]
            for (name, storage, target) in cases {
                try a.plain.ok(["create", name, "--rootfs", rootfs] + storage + ["--", "/bin/sh", "-c", "echo \(name) > /note; " + Self.counter])
                try a.plain.ok(["start", name])
                #expect(try a.plain.waitFor(name, file: "/counter"))
                let everyFile = "find / -xdev -type f ! -name counter | sort | xargs sha256sum | sha256sum"
                let checksum = try a.plain.exec(name, everyFile)
                try a.plain.ok(["stop", name, "--timeout", "0"])
                let privateArea = hosts.root(1) + "/containers/\(name)/private"
                #expect(!isMountPoint(privateArea) || storage.isEmpty)
                let result = try a.migrate(name, to: 2, ["--offline"] + target)
                #expect(result.succeeded, "\(result.stderr)")
                #expect(!isMountPoint(privateArea), "the source's private area stayed mounted")
                try b.plain.ok(["start", name])
                let targetArea = hosts.root(2) + "/containers/\(name)/private"
                #expect(isMountPoint(targetArea) == name.hasSuffix("-insulated"), "\(name): wrong storage on the target")
                #expect(try b.plain.read(name, "/note") == name)
                #expect(try b.plain.exec(name, everyFile) == checksum, "\(name): files differ after the migration")
                #expect(try b.plain.read(name, "/bin/busybox | sha256sum | cut -c1-16") == (try Shell.run(["sh", "-c", "sha256sum \(rootfs)/bin/busybox | cut -c1-16"])).trimmingCharacters(in: .whitespacesAndNewlines))
                #expect(!FileManager.default.fileExists(atPath: hosts.root(1) + "/containers/\(name)"))
            }
        }

        /// Both hosts see the same block device (a "SAN" loop device on this machine): no
        /// private-area byte crosses the wire; the device is unmounted here, mounted there.
        /// A first attempt whose image stream is damaged on the way is refused and the source
        /// resumes from its page spool.
        @Test func sharedDeviceMovesWithoutCopyingData() throws {
            let scratch = try Scratch("migrate-shared")
            defer { scratch.cleanUp() }
            let hosts = try TestHosts(scratch)
            defer { hosts.tearDown() }
            let rootfs = try Rootfs.busybox(in: scratch)
            let image = scratch.path("san.img")
            try Shell.run(["truncate", "-s", "128M", image])
            let device = try Shell.run(["losetup", "--find", "--show", image]).trimmingCharacters(in: .whitespacesAndNewlines)
            defer { _ = try? Shell.run(["losetup", "-d", device]) }
            let a = hosts.ferry(1)
            let b = hosts.ferry(2)
            try a.plain.ok(["create", "san", "--rootfs", rootfs, "--storage", "insulated", "--device", device, "--format", "--", "/bin/sh", "-c", Self.counter])
            try a.plain.ok(["start", "san"])
            #expect(try a.plain.waitFor("san", file: "/counter"))

            // The source's tasks die at the dump here (the target takes over the device), so
            // a refused image stream brings the container back from the spool of its pages.
            let refused = try a.migrate("san", to: 2, environment: ["FERRY_FAIL_AT": "image-stream:corrupt"])
            #expect(!refused.succeeded && refused.stderr.contains("MAC does not match"), "\(refused.stderr)")
            #expect(refused.stderr.contains("runs on the source and the target was cleaned"), "\(refused.stderr)")
            let resumed = try a.plain.counter("san")
            #expect(try eventually { try a.plain.counter("san") > resumed }, "the source did not come back from its spool")
            #expect(!FileManager.default.fileExists(atPath: hosts.root(2) + "/containers/san"))

            let online = try a.migrate("san", to: 2, ["--json"])
            #expect(online.succeeded, "\(online.stderr)")
            let summary = try JSONDocuments.migrationSummary(online.stdout)
            #expect(summary["dataBytes"] as? Int == 0, "private-area bytes crossed the wire: \(online.stdout)")
            #expect(mountEntry(at: hosts.root(2) + "/containers/san/private")?.source == device, "B does not use the shared device")
            #expect(!isMountPoint(hosts.root(1) + "/containers/san/private"))
            let now = try b.plain.counter("san")
            #expect(try eventually { try b.plain.counter("san") > now })

            // Offline back to A, stopped: the device moves, nothing is copied.
            try b.plain.ok(["stop", "san", "--timeout", "0"])
            let offline = try b.migrate("san", to: 1, ["--offline", "--json"])
            #expect(offline.succeeded, "\(offline.stderr)")
            let back = try JSONDocuments.migrationSummary(offline.stdout)
            #expect(back["dataBytes"] as? Int == 0)
            try a.plain.ok(["start", "san"])
            #expect(try a.plain.counter("san") > 0)
            #expect(!FileManager.default.fileExists(atPath: hosts.root(2) + "/containers/san"))
        }

        /// Images go through a dump device both hosts see, not over the wire; a failure after
        /// the dump restores the source from that device.
        @Test func dumpDeviceCarriesTheImages() throws {
            let scratch = try Scratch("migrate-dumpdev")
            defer { scratch.cleanUp() }
            let hosts = try TestHosts(scratch)
            defer { hosts.tearDown() }
            let rootfs = try Rootfs.busybox(in: scratch)
            try Fixtures.installMemhog(into: rootfs)
            let image = scratch.path("dump.img")
            try Shell.run(["truncate", "-s", "256M", image])
            try Shell.run(["mkfs.ext4", "-q", image])
            let device = try Shell.run(["losetup", "--find", "--show", image]).trimmingCharacters(in: .whitespacesAndNewlines)
            defer { _ = try? Shell.run(["losetup", "-d", device]) }
            let a = hosts.ferry(1)
            let b = hosts.ferry(2)
            try a.plain.ok(["create", "dd", "--rootfs", rootfs, "--", "/bin/memhog", "32"])
            try a.plain.ok(["start", "dd"])
            #expect(try a.plain.waitFor("dd", file: "/memsum"))
            let sum = try a.plain.read("dd", "/memsum")

            let failed = try a.migrate("dd", to: 2, ["--dump-dir-device", device], environment: ["FERRY_FAIL_AT": "restore-target"])
            #expect(!failed.succeeded)
            #expect(try a.plain.read("dd", "/memsum") == sum, "the source was not restored from the dump device")
            #expect(mountEntry(at: hosts.root(1) + "/containers/dd/dump-device") == nil)

            let result = try a.migrate("dd", to: 2, ["--dump-dir-device", device, "--json"])
            #expect(result.succeeded, "\(result.stderr)")
            let summary = try JSONDocuments.migrationSummary(result.stdout)
            #expect(summary["imageBytes"] as? Int == 0, "images crossed the wire: \(result.stdout)")
            #expect(try b.plain.read("dd", "/memsum") == sum)
            let mounts = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
            #expect(!mounts.contains(" \(device) ") && !mounts.contains("dump-device"), "the dump device stayed mounted")
        }

        @Test func everyStepFailingLeavesTheSourceRunningAndTheTargetClean() throws {
            let scratch = try Scratch("migrate-undo")
            defer { scratch.cleanUp() }
            let hosts = try TestHosts(scratch)
            defer { hosts.tearDown() }
            let rootfs = try Rootfs.busybox(in: scratch)
            let a = hosts.ferry(1)
            try a.plain.ok(["create", "undo", "--rootfs", rootfs, "--overlay"] + (try Self.bindSources(scratch)) + ["--", "/bin/sh", "-c", Self.counter])
            try a.plain.ok(["start", "undo"])
            let steps = try a.run(["migrate", "--list-steps"]).stdout.split(separator: "\n").map(String.init)
            #expect(steps.count >= 10 && steps.contains("restore-target"))
            for step in steps {
                let result = try a.migrate("undo", to: 2, environment: ["FERRY_FAIL_AT": step])
                #expect(!result.succeeded, "migration with \(step) failing succeeded")
                #expect(result.stderr.contains(step) && result.stderr.contains("target was cleaned"), "\(step): \(result.stderr)")
                #expect(try a.plain.ok(["status", "undo"]).stdout.contains("running"), "\(step): the source is not running")
                let before = try a.plain.counter("undo")
                #expect(try eventually { try a.plain.counter("undo") > before }, "\(step): the counter stopped")
                let targetEntries = (try? FileManager.default.contentsOfDirectory(atPath: hosts.root(2) + "/containers")) ?? []
                #expect(targetEntries.isEmpty, "\(step): the target holds \(targetEntries)")
                #expect(!FileManager.default.fileExists(atPath: hosts.root(1) + "/migrations/undo.json"), "\(step): the journal stayed")
            }
            // The same container still migrates afterwards.
            #expect(try a.migrate("undo", to: 2).succeeded)

            // Offline, with an insulated area that is mounted only for the copy.
            try a.plain.ok(["create", "cold", "--rootfs", rootfs, "--storage", "insulated", "--image", "64M", "--", "/bin/sh", "-c", Self.counter])
            let offlineSteps = try a.run(["migrate", "--list-steps", "--offline"]).stdout.split(separator: "\n").map(String.init)
            #expect(offlineSteps.contains("register-target") && offlineSteps.contains("mount-source"))
            let coldArea = hosts.root(1) + "/containers/cold/private"
            let image = hosts.root(1) + "/containers/cold/private.img"
            for step in offlineSteps {
                let result = try a.migrate("cold", to: 2, environment: ["FERRY_FAIL_AT": step])
                #expect(!result.succeeded && result.stderr.contains(step), "\(step): \(result.stderr)")
                #expect(try a.plain.ok(["status", "cold"]).stdout.contains("stopped"))
                #expect(!isMountPoint(coldArea), "\(step): the source's area stayed mounted")
                #expect(loopDevices(backing: image).isEmpty, "\(step): a loop device stayed attached")
                let targetEntries = (try? FileManager.default.contentsOfDirectory(atPath: hosts.root(2) + "/containers")) ?? []
                #expect(targetEntries == ["undo"], "\(step): the target holds \(targetEntries)")
            }
        }

        @Test func killedSourceFerryIsRecovered() throws {
            let scratch = try Scratch("migrate-kill")
            defer { scratch.cleanUp() }
            let hosts = try TestHosts(scratch)
            defer { hosts.tearDown() }
            let rootfs = try Rootfs.busybox(in: scratch)
            let a = hosts.ferry(1)
            try a.plain.ok(["create", "k9", "--rootfs", rootfs, "--", "/bin/sh", "-c", Self.counter])
            try a.plain.ok(["start", "k9"])
            // kill -9 of ferry itself in the middle of the transfer (images being sent).
            let killed = try a.migrate("k9", to: 2, environment: ["FERRY_FAIL_AT": "send-images:kill"])
            #expect(killed.status == 137, "ferry was not killed: \(killed.status) \(killed.stderr)")
            #expect(FileManager.default.fileExists(atPath: hosts.root(1) + "/migrations/k9.json"))
            let refused = try a.migrate("k9", to: 2)
            #expect(!refused.succeeded && refused.stderr.contains("ferry recover k9"))
            let recovered = try a.run(["recover", "k9"])
            #expect(recovered.succeeded, "\(recovered.stderr)")
            #expect(try a.plain.ok(["status", "k9"]).stdout.contains("running"))
            let before = try a.plain.counter("k9")
            #expect(try eventually { try a.plain.counter("k9") > before })
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: hosts.root(2) + "/containers")) ?? []).isEmpty)
        }

        @Test func badTargetsAreRefusedAndTheSourceIsUntouched() throws {
            let scratch = try Scratch("migrate-bad")
            defer { scratch.cleanUp() }
            let hosts = try TestHosts(scratch, count: 2)
            defer { hosts.tearDown() }
            let rootfs = try Rootfs.busybox(in: scratch)
            let a = hosts.ferry(1)
            let b = hosts.ferry(2)
            try a.plain.ok(["create", "src", "--rootfs", rootfs, "--", "/bin/sh", "-c", Self.counter])
            try a.plain.ok(["start", "src"])

            // A dry run checks both sides and changes nothing.
            let dry = try a.migrate("src", to: 2, ["--dry-run"])
            #expect(dry.succeeded && dry.stdout.contains("dry run"), "\(dry.stderr)")
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: hosts.root(2) + "/containers")) ?? []).isEmpty)
            #expect(!FileManager.default.fileExists(atPath: hosts.root(1) + "/migrations/src.json"))

            // Unreachable: an address on the test network that no host has.
            let config = try String(contentsOfFile: hosts.sshConfig, encoding: .utf8)
            let unreachable = scratch.path("ssh_config-unreachable")
            try config.replacingOccurrences(of: "HostName fd00:fe::2", with: "HostName fd00:fe::99").write(toFile: unreachable, atomically: true, encoding: .utf8)
            let noHost = try a.run(["migrate", "src", "h2", "--ssh-config", unreachable])
            #expect(!noHost.succeeded && noHost.stderr.contains("h2"), "\(noHost.stderr)")

            // Wrong host key: known_hosts says h2 has another key.
            let wrongKnown = scratch.path("known_hosts-wrong")
            try Shell.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", scratch.path("other_key")])
            let otherKey = try String(contentsOfFile: scratch.path("other_key.pub"), encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
            let known = try String(contentsOfFile: hosts.directory + "/known_hosts", encoding: .utf8)
                .split(separator: "\n").map { $0.hasPrefix("h2 ") ? "h2 \(otherKey)" : String($0) }.joined(separator: "\n") + "\n"
            try known.write(toFile: wrongKnown, atomically: true, encoding: .utf8)
            let wrongKeyConfig = scratch.path("ssh_config-wrongkey")
            try config.replacingOccurrences(of: hosts.directory + "/known_hosts", with: wrongKnown).write(toFile: wrongKeyConfig, atomically: true, encoding: .utf8)
            let badKey = try a.run(["migrate", "src", "h2", "--ssh-config", wrongKeyConfig])
            #expect(!badKey.succeeded && badKey.stderr.lowercased().contains("host key"), "\(badKey.stderr)")

            // Target name taken.
            try b.plain.ok(["create", "src", "--rootfs", rootfs])
            let taken = try a.migrate("src", to: 2)
            #expect(!taken.succeeded && taken.stderr.contains("already exists"), "\(taken.stderr)")
            try b.plain.ok(["destroy", "src"])

            // Out of space: the target's state root is a 1 MiB filesystem.
            try Shell.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tiny", hosts.root(2)])
            let full = try a.migrate("src", to: 2)
            umount2(hosts.root(2), 0)
            #expect(!full.succeeded && full.stderr.contains("free"), "\(full.stderr)")

            // Already migrating: the container's lock is held.
            let lockHolder = try Spawn.start(["flock", "--no-fork", hosts.root(1) + "/containers/src", "sleep", "30"], environment: Spawn.defaultEnvironment)
            usleep(300_000)
            let busy = try a.migrate("src", to: 2)
            Shell.stop(lockHolder)
            #expect(!busy.succeeded && busy.stderr.contains("busy"), "\(busy.stderr)")

            #expect(try a.plain.ok(["status", "src"]).stdout.contains("running"))
            let before = try a.plain.counter("src")
            #expect(try eventually { try a.plain.counter("src") > before })
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: hosts.root(2) + "/containers")) ?? []).isEmpty)
        }
    }
}
