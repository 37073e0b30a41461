import FerrySystem
import Foundation
import Testing

extension Integration {
    @Suite struct CheckpointRestore {
        @Test func counterAndMemorySurviveCheckpointAndRestore() throws {
            let scratch = try Scratch("cr-memory")
            defer { scratch.cleanUp() }
            let ferry = scratch.ferry
            let rootfs = try Rootfs.busybox(in: scratch)
            try Fixtures.installMemhog(into: rootfs)
            try ferry.ok(["create", "mem", "--rootfs", rootfs, "--", "/bin/memhog", "64"])
            try ferry.ok(["start", "mem"])
            #expect(try ferry.waitFor("mem", file: "/counter"))
            let sumBefore = try ferry.read("mem", "/memsum")
            #expect(try ferry.read("mem", "/memhog.pid") == "1")

            let checkpoint = try ferry.ok(["checkpoint", "mem", "--json"]).stdout
            let written = try JSONDocuments.payload(checkpoint, "checkpoint")["bytesWritten"] as? Int ?? 0
            #expect(written >= 64 << 20, "64 MiB were not dumped: \(checkpoint)")
            let counterAtDump = Int(try String(contentsOfFile: scratch.stateRoot + "/containers/mem/private/rootfs/counter", encoding: .utf8).trimmingCharacters(in: .newlines)) ?? -1
            #expect(counterAtDump > 0)
            #expect(try ferry.ok(["status", "mem"]).stdout.contains("stopped"), "the container still runs after a checkpoint without --leave-running")

            try ferry.ok(["restore", "mem"])
            let first = try ferry.counter("mem")
            #expect(first >= counterAtDump, "the counter was reset: \(first) < \(counterAtDump)")
            #expect(try eventually { try ferry.counter("mem") > first }, "the counter does not advance after restore")
            #expect(try ferry.read("mem", "/memsum") == sumBefore, "memory changed across checkpoint/restore")
            #expect(try ferry.read("mem", "/memhog.pid") == "1")
            #expect(try ferry.read("mem", "/proc/1/cmdline | tr '\\0' ' '") == "/bin/memhog 64")
        }

        @Test func execProcessesNeverStopACheckpoint() throws {
            let scratch = try Scratch("cr-exec")
            defer { scratch.cleanUp() }
            let ferry = scratch.ferry
            let rootfs = try Rootfs.busybox(in: scratch)
            try ferry.ok(["create", "ex", "--rootfs", rootfs, "--", "/bin/sh", "-c", "mkdir -p /ns; while true; do sleep 1; done"])
            try ferry.ok(["start", "ex"])
            // Left running in the background, in a mount namespace of its own, holding the
            // stdin pipe of the exec that started it (its output goes to /dev/null: the exec's
            // reader is gone once the exec returns, and a write would end it with SIGPIPE).
            _ = try ferry.exec("ex", "unshare -m sh -c 'mount -t tmpfs bg /ns; exec sleep 100000' >/dev/null 2>&1 &")
            _ = try ferry.exec("ex", "echo foreground done")
            #expect(try eventually { try ferry.exec("ex", "ps").contains("sleep 100000") })
            try ferry.ok(["checkpoint", "ex", "--leave-running", "--to", scratch.path("images")])
            try ferry.ok(["stop", "ex", "--timeout", "0"])
            try ferry.ok(["restore", "ex", "--from", scratch.path("images")])
            #expect(try ferry.exec("ex", "ps").contains("sleep 100000"))
            let mounts = try ferry.ok(["mounts", "ex"]).stdout
            #expect(mounts.contains("mount namespace 2"), "the background process's namespace was not restored: \(mounts)")
        }

        @Test func unsupportedMountIsBlockedBeforeAnyFreeze() throws {
            let scratch = try Scratch("cr-fuse")
            defer { scratch.cleanUp() }
            let ferry = scratch.ferry
            let rootfs = try Rootfs.busybox(in: scratch)
            // A real FUSE mount (sshfs, talking to a local sftp-server instead of ssh).
            let share = scratch.path("share")
            let mountPoint = scratch.path("fuse")
            try FileManager.default.createDirectory(atPath: share, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
            try "remote\n".write(toFile: share + "/file", atomically: true, encoding: .utf8)
            let fakeSSH = scratch.path("fake-ssh")
            try "#!/bin/sh\nexec /usr/lib/openssh/sftp-server\n".write(toFile: fakeSSH, atomically: true, encoding: .utf8)
            chmod(fakeSSH, 0o755)
            let sshfs = try Shell.start(["sshfs", "-f", "-o", "ssh_command=\(fakeSSH)", "localhost:\(share)", mountPoint])
            defer {
                _ = try? Shell.run(["fusermount3", "-u", "-z", mountPoint])
                Shell.stop(sshfs)
            }
            #expect(eventually { mountEntry(at: mountPoint)?.fsType == "fuse.sshfs" }, "sshfs did not mount")

            try ferry.ok(["create", "fz", "--rootfs", rootfs, "--bind", "\(mountPoint):/mnt/remote", "--", "/bin/sh", "-c", "i=0; while true; do i=$((i+1)); echo $i > /counter; sleep 0.1; done"])
            try ferry.ok(["start", "fz"])
            #expect(try ferry.read("fz", "/mnt/remote/file") == "remote")
            let report = try ferry.run(["mounts", "fz"])
            #expect(!report.succeeded)
            #expect(report.stdout.contains("/mnt/remote") && report.stdout.contains("blocked"), "\(report.stdout)")

            let freezer = try String(contentsOfFile: "/proc/\(try statusPid(ferry, "fz"))/cgroup", encoding: .utf8)
            let refused = try ferry.run(["checkpoint", "fz", "--to", scratch.path("images")])
            #expect(!refused.succeeded && refused.stderr.contains("/mnt/remote"), "\(refused.stderr)")
            #expect(!FileManager.default.fileExists(atPath: scratch.path("images")), "an image directory was created")
            #expect(!FileManager.default.fileExists(atPath: scratch.stateRoot + "/containers/fz/dump.log"), "CRIU was started")
            #expect(freezer.contains("freezer:/ferry/"))
            let before = try ferry.counter("fz")
            #expect(try eventually { try ferry.counter("fz") > before }, "the container is not running after the refusal")
        }
    }
}
