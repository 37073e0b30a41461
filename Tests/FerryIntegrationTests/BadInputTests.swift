import Foundation
import Testing

extension Integration {
    /// Each bad input gets a one-line error naming the thing, a non-zero exit, and leaves
    /// the state root exactly as it was.
    @Suite struct BadInput {
        @Test func errorsNameTheThingAndChangeNothing() throws {
            let scratch = try Scratch("badinput")
            defer { scratch.cleanUp() }
            let ferry = scratch.ferry
            let rootfs = try Rootfs.busybox(in: scratch)
            try ferry.ok(["create", "good", "--rootfs", rootfs, "--", "/bin/sh", "-c", "sleep 1000"])
            let before = try treeChecksum(scratch.stateRoot)

            let cases: [(arguments: [String], mentions: String)] = [
                (["start", "ghost"], "ghost"),
                (["stop", "ghost"], "ghost"),
                (["exec", "ghost", "--", "true"], "ghost"),
                (["create", "good", "--rootfs", rootfs], "already exists"),
                (["create", "a/b", "--rootfs", rootfs], "a/b"),
                (["create", "..", "--rootfs", rootfs], ".."),
                (["create", "bad\u{7}name", "--rootfs", rootfs], "control characters"),
                (["create", "new", "--rootfs", scratch.path("missing")], scratch.path("missing")),
                (["create", "new", "--rootfs", rootfs, "--storage", "insulated"], "--device"),
                (["create", "new", "--rootfs", rootfs, "--storage", "insulated", "--image", "lots"], "lots"),
                (["create", "new", "--rootfs", rootfs, "--bind", "relative:/x"], "relative"),
                (["create", "new", "--rootfs", rootfs, "--bind", scratch.path("nope") + ":/x"], scratch.path("nope")),
                (["create", "new", "--rootfs", rootfs, "--hostname=-bad-"], "-bad-"),
                (["create", "new", "--rootfs", rootfs, "--hostname", String(repeating: "h", count: 65)], "64"),
                (["create", "new", "--rootfs", rootfs, "--memory", "1K"], "too small"),
                (["create", "new", "--rootfs", rootfs, "--memory", "lots"], "lots"),
                (["create", "new", "--rootfs", rootfs, "--cpus", "0"], "--cpus 0"),
                (["create", "new", "--rootfs", rootfs, "--pids=-3"], "--pids -3"),
                (["set", "good"], "nothing to set"),
                (["set", "good", "--pids", "1"], "--pids 1"),
                (["set", "good", "--hostname", "a..b"], "a..b"),
                (["set", "ghost", "--pids", "10"], "ghost"),
                (["stop", "good"], "not running"),
                (["migrate", "good", "h2", "--postcopy", "--offline"], "--offline"),
                (["migrate", "good", "h2", "--postcopy", "--dump-dir-device", "/dev/sdq"], "/dev/sdq"),
                (["destroy", "ghost"], "ghost"),
            ]
            for (arguments, mention) in cases {
                let result = try ferry.run(arguments)
                #expect(!result.succeeded, "ferry \(arguments) succeeded")
                let lines = result.stderr.split(separator: "\n")
                #expect(lines.count == 1, "ferry \(arguments) printed \(lines.count) lines: \(result.stderr)")
                #expect(result.stderr.contains(mention), "ferry \(arguments) error does not name '\(mention)': \(result.stderr)")
                #expect(try treeChecksum(scratch.stateRoot) == before, "ferry \(arguments) changed the state root")
            }
        }

        @Test func deviceMountedElsewhereIsRefused() throws {
            let scratch = try Scratch("busydevice")
            defer { scratch.cleanUp() }
            let ferry = scratch.ferry
            let rootfs = try Rootfs.busybox(in: scratch)
            let image = scratch.path("disk.img")
            try Shell.run(["truncate", "-s", "32M", image])
            try Shell.run(["mkfs.ext4", "-q", image])
            let device = try Shell.run(["losetup", "--find", "--show", image]).trimmingCharacters(in: .whitespacesAndNewlines)
            defer { _ = try? Shell.run(["losetup", "-d", device]) }
            let elsewhere = scratch.path("elsewhere")
            try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
            try Shell.run(["mount", device, elsewhere])
            defer { umount2(elsewhere, 0) }

            let result = try ferry.run(["create", "d1", "--rootfs", rootfs, "--storage", "insulated", "--device", device])
            #expect(!result.succeeded)
            #expect(result.stderr.contains(device) && result.stderr.contains(elsewhere), "\(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: scratch.stateRoot + "/containers/d1"))

            // Unmounted, the device is accepted only with --format, since it holds ext4 already.
            umount2(elsewhere, 0)
            let unformatted = try ferry.run(["create", "d1", "--rootfs", rootfs, "--storage", "insulated", "--device", device])
            #expect(!unformatted.succeeded && unformatted.stderr.contains("--format"), "\(unformatted.stderr)")
            try ferry.ok(["create", "d1", "--rootfs", rootfs, "--storage", "insulated", "--device", device, "--format", "--", "/bin/sh", "-c", "sleep 1000"])
            try ferry.ok(["start", "d1"])
            #expect(mountEntry(at: scratch.stateRoot + "/containers/d1/private")?.source == device)
            try ferry.ok(["stop", "d1", "--timeout", "0"])
            #expect(!isMountPoint(scratch.stateRoot + "/containers/d1/private"))
        }
    }
}
