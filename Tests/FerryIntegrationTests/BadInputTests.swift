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
                (["migrate", "good", "h2", "--postcopy", "--offline"], "--offline"),
                (["migrate", "good", "h2", "--postcopy", "--dump-dir-device", "/dev/sdq"], "/dev/sdq"),
                (["destroy", "ghost"], "ghost"),
            ]
            for (arguments, mention) in cases {
                try expectRefused(ferry, arguments, naming: [mention], stateRoot: scratch.stateRoot, unchanged: before)
            }
        }

        /// Issue 14's inputs checked before anything runs: the one line names the value and
        /// the fix, the exit status is 2 (bad usage), and nothing changes.
        @Test func upFrontChecksNameTheValueAndTheFix() throws {
            let scratch = try Scratch("badinput-upfront")
            defer { scratch.cleanUp() }
            let ferry = scratch.ferry
            let rootfs = try Rootfs.busybox(in: scratch)
            try ferry.ok(["create", "good", "--rootfs", rootfs, "--", "/bin/sh", "-c", "sleep 1000"])
            let file = scratch.path("a-file")
            try Data("not a root".utf8).write(to: URL(fileURLWithPath: file))
            let before = try treeChecksum(scratch.stateRoot)

            let cases: [(arguments: [String], value: String, fix: String, status: Int32)] = [
                (["create", "new", "--rootfs", rootfs, "--hostname=-bad-"], "-bad-", "e.g. --hostname", 2),
                (["create", "new", "--rootfs", rootfs, "--bind", rootfs + ":/"], rootfs + ":/", "bind onto a directory inside it", 2),
                (["create", "new", "--rootfs", rootfs, "--bind", rootfs + "://"], rootfs + "://", "bind onto a directory inside it", 2),
                (["set", "good", "--bind", rootfs + ":/"], rootfs + ":/", "bind onto a directory inside it", 2),
                (["exec", "good", "--env", "K", "--", "true"], "--env K", "--env K=VALUE", 2),
                (["exec", "good", "--env", "=v", "--", "true"], "--env =v", "NAME=v", 2),
                (["stop", "good", "--timeout=-1"], "--timeout -1", "--timeout 10", 2),
                (["create", "new", "--rootfs", rootfs, "--storage", "insulated", "--image", "0"], "--image 0 is too small", "at least 16M", 2),
                (["create", "new", "--rootfs", rootfs, "--storage", "insulated", "--image", "1K"], "--image 1K is too small", "at least 16M", 2),
                (["create", "new", "--rootfs", rootfs, "--memory", "0"], "--memory 0 is too small", "at least 4M", 2),
                (["migrate", "good", "h9", "--dst-image", "1G"], "--dst-image 1G", "add --dst-storage insulated", 2),
                (["migrate", "good", "h9", "--dst-storage", "insulated", "--dst-image", "0"], "--dst-image 0 is too small", "at least 16M", 2),
                (["migrate", "good", "h9", "--max-downtime=-1"], "--max-downtime -1", "--max-downtime 5", 2),
                (["--root", "relative/root", "list"], "relative/root", "give an absolute one", 2),
                (["list", "--root", "relative/root"], "relative/root", "give an absolute one", 2),
                (["--root", file, "create", "new", "--rootfs", rootfs], file, "give a directory", 2),
                (["restore", "good", "--from", scratch.path("no-images")], scratch.path("no-images"), "the image directory", 1),
                (["restore", "good", "--from", file], file, "the image directory", 1),
            ]
            for (arguments, value, fix, status) in cases {
                let result = try expectRefused(ferry, arguments, naming: [value, fix], stateRoot: scratch.stateRoot, unchanged: before)
                #expect(result.status == status, "ferry \(arguments) exited \(result.status), not \(status)")
            }
            #expect(!FileManager.default.fileExists(atPath: FileManager.default.currentDirectoryPath + "/relative"))
            #expect(try String(contentsOfFile: file, encoding: .utf8) == "not a root")
        }

        /// podman's reading, not LXD's: a stop of a stopped container has what it asked for.
        @Test func stopOfAStoppedContainerSucceedsAndChangesNothing() throws {
            let scratch = try Scratch("stop-stopped")
            defer { scratch.cleanUp() }
            let ferry = scratch.ferry
            let rootfs = try Rootfs.busybox(in: scratch)
            try ferry.ok(["create", "idle", "--rootfs", rootfs, "--", "/bin/sh", "-c", "sleep 1000"])
            let before = try treeChecksum(scratch.stateRoot)
            let result = try ferry.ok(["stop", "idle"])
            #expect(result.stdout.contains("idle is not running; nothing to stop"), "\(result.stdout)")
            #expect(result.stderr.isEmpty, "\(result.stderr)")
            #expect(try treeChecksum(scratch.stateRoot) == before)
            // A missing container is still an error: there is no state to hold.
            let ghost = try ferry.run(["stop", "ghost"])
            #expect(ghost.status == 1 && ghost.stderr.contains("ghost"), "\(ghost.status) \(ghost.stderr)")
        }

        /// `destroy --force` stops a running container first, as `podman rm -f` does.
        @Test func destroyForceStopsARunningContainer() throws {
            let scratch = try Scratch("destroy-force")
            defer { scratch.cleanUp() }
            let ferry = scratch.ferry
            let rootfs = try Rootfs.busybox(in: scratch)
            try ferry.ok(["create", "busy", "--rootfs", rootfs, "--", "/bin/sh", "-c", "sleep 1000"])
            try ferry.ok(["start", "busy"])
            let plain = try ferry.run(["destroy", "busy"])
            #expect(!plain.succeeded && plain.stderr.contains("'ferry destroy --force busy'"), "\(plain.stderr)")
            #expect(try ferry.run(["status", "busy"]).stdout.contains("running"))
            try ferry.ok(["destroy", "--force", "busy"])
            #expect(!FileManager.default.fileExists(atPath: scratch.stateRoot + "/containers/busy"))
        }

        /// ArgumentParser's own refusals exit 2 like Ferry's, not sysexits' 64.
        @Test func usageErrorsExitTwo() throws {
            let scratch = try Scratch("usage-status")
            defer { scratch.cleanUp() }
            for arguments in [["bogus"], ["list", "--bogus"], ["stop"], ["stop", "x", "--timeout", "soon"]] {
                let result = try scratch.ferry.run(arguments)
                #expect(result.status == 2, "ferry \(arguments) exited \(result.status): \(result.stderr)")
                #expect(result.stderr.hasPrefix("Error: "), "\(result.stderr)")
            }
            #expect(try scratch.ferry.run(["--help"]).status == 0)
            #expect(try scratch.ferry.run(["--version"]).status == 0)
        }

        /// Runs a command that must be refused: not a success, one line on stderr naming
        /// every one of `naming`, the state root unchanged.
        @discardableResult
        func expectRefused(
            _ ferry: Ferry, _ arguments: [String], naming: [String], stateRoot: String, unchanged before: String,
            sourceLocation: SourceLocation = #_sourceLocation
        ) throws -> Ferry.Result {
            let result = try ferry.run(arguments)
            #expect(!result.succeeded, "ferry \(arguments) succeeded", sourceLocation: sourceLocation)
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1, "ferry \(arguments) printed \(lines.count) lines: \(result.stderr)", sourceLocation: sourceLocation)
            for text in naming {
                #expect(result.stderr.contains(text), "ferry \(arguments) error does not name '\(text)': \(result.stderr)", sourceLocation: sourceLocation)
            }
            #expect(try treeChecksum(stateRoot) == before, "ferry \(arguments) changed the state root", sourceLocation: sourceLocation)
            return result
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
