import Foundation
import Testing

extension Integration {
    /// Bad input around checkpoints: clear errors, images untouched, the source container
    /// untouched (and still running after a failed checkpoint).
    @Suite struct CheckpointBadInput {
        static let counter = "i=0; while true; do i=$((i+1)); echo $i > /counter; sleep 0.1; done"

        @Test func refusalsLeaveImagesAndContainersAlone() throws {
            let scratch = try Scratch("cr-bad")
            defer { scratch.cleanUp() }
            let ferry = scratch.ferry
            let rootfs = try Rootfs.busybox(in: scratch)
            try ferry.ok(["create", "one", "--rootfs", rootfs, "--", "/bin/sh", "-c", Self.counter])
            try ferry.ok(["create", "two", "--rootfs", rootfs, "--", "/bin/sh", "-c", Self.counter])

            let notRunning = try ferry.run(["checkpoint", "one", "--to", scratch.path("never")])
            #expect(!notRunning.succeeded && notRunning.stderr.contains("not running"))
            #expect(!FileManager.default.fileExists(atPath: scratch.path("never")))

            try ferry.ok(["start", "one"])
            let images = scratch.path("images")
            try ferry.ok(["checkpoint", "one", "--to", images, "--leave-running"])
            let pristine = try treeChecksum(images)

            let occupied = try ferry.run(["checkpoint", "one", "--to", images])
            #expect(!occupied.succeeded && occupied.stderr.contains("never restored") && occupied.stderr.contains("--force"), "\(occupied.stderr)")
            #expect(try treeChecksum(images) == pristine)
            // A directory with anything else in it is never emptied.
            let foreign = scratch.path("foreign")
            try FileManager.default.createDirectory(atPath: foreign, withIntermediateDirectories: true)
            try "keep\n".write(toFile: foreign + "/notes.txt", atomically: true, encoding: .utf8)
            let other = try ferry.run(["checkpoint", "one", "--to", foreign, "--force"])
            #expect(!other.succeeded && other.stderr.contains("not empty"), "\(other.stderr)")
            #expect(FileManager.default.fileExists(atPath: foreign + "/notes.txt"))

            let running = try ferry.run(["restore", "one", "--from", images])
            #expect(!running.succeeded && running.stderr.contains("already running"), "\(running.stderr)")

            let otherContainer = try ferry.run(["restore", "two", "--from", images])
            #expect(!otherContainer.succeeded && otherContainer.stderr.contains("of container one, not two"), "\(otherContainer.stderr)")
            #expect(try ferry.ok(["status", "two"]).stdout.contains("stopped"))
            #expect(try treeChecksum(images) == pristine, "a refused restore changed the images")

            try ferry.ok(["stop", "one", "--timeout", "0"])
            // Damage a copy in three ways; each is named and nothing is started.
            let pages = try #require(try FileManager.default.contentsOfDirectory(atPath: images).first { $0.hasPrefix("pages-") })
            for damage in ["flip", "remove", "format", "manifest"] {
                let copy = scratch.path("damaged-\(damage)")
                try Shell.run(["cp", "-a", images, copy])
                switch damage {
                case "flip":
                    let handle = try #require(FileHandle(forUpdatingAtPath: copy + "/" + pages))
                    try handle.seek(toOffset: 100)
                    let byte = try handle.read(upToCount: 1)?.first ?? 0
                    try handle.seek(toOffset: 100)
                    handle.write(Data([byte ^ 0xff]))
                    try handle.close()
                case "remove":
                    try FileManager.default.removeItem(atPath: copy + "/" + pages)
                case "format":
                    let manifest = try String(contentsOfFile: copy + "/ferry-manifest.json", encoding: .utf8)
                    try manifest.replacingOccurrences(of: "\"format\" : 1", with: "\"format\" : 99").write(toFile: copy + "/ferry-manifest.json", atomically: true, encoding: .utf8)
                default:
                    try FileManager.default.removeItem(atPath: copy + "/ferry-manifest.json")
                }
                let before = try treeChecksum(copy)
                let result = try ferry.run(["restore", "one", "--from", copy])
                #expect(!result.succeeded, "restore from a damaged (\(damage)) checkpoint succeeded")
                let expected = ["flip": "\(pages) is corrupt", "remove": "\(pages) is missing", "format": "newer than this Ferry", "manifest": "holds no Ferry checkpoint"][damage] ?? ""
                #expect(result.stderr.contains(expected), "\(damage): \(result.stderr)")
                #expect(try treeChecksum(copy) == before, "\(damage): the images were changed")
                #expect(try ferry.ok(["status", "one"]).stdout.contains("stopped"))
            }
            // The intact checkpoint still restores.
            try ferry.ok(["restore", "one", "--from", images])
        }

        @Test func failedDumpLeavesTheContainerRunning() throws {
            let scratch = try Scratch("cr-fail")
            defer { scratch.cleanUp() }
            let ferry = scratch.ferry
            let rootfs = try Rootfs.busybox(in: scratch)
            // A deleted file held open, larger than CRIU's ghost limit (1 MiB): CRIU refuses
            // it after it has frozen the tree — so the failure path must thaw it again.
            let script = "dd if=/dev/zero of=/ghost bs=1M count=4 2>/dev/null; exec 3</ghost; rm /ghost; touch /ready; " + Self.counter
            try ferry.ok(["create", "ghost", "--rootfs", rootfs, "--", "/bin/sh", "-c", script])
            try ferry.ok(["start", "ghost"])
            #expect(try ferry.waitFor("ghost", file: "/ready"), "the deleted file was never held")
            let failed = try ferry.run(["checkpoint", "ghost", "--to", scratch.path("images")])
            #expect(!failed.succeeded)
            #expect(failed.stderr.contains("CRIU dump failed") && failed.stderr.contains("dump.log"), "\(failed.stderr)")
            #expect(!FileManager.default.fileExists(atPath: scratch.path("images")), "a partial image directory was left")
            let before = try ferry.counter("ghost")
            #expect(try eventually { try ferry.counter("ghost") > before }, "the container is not running after the failed dump")
            let state = try String(contentsOfFile: "/sys/fs/cgroup/freezer" + (try freezerPath(ferry, "ghost")) + "/freezer.state", encoding: .utf8)
            #expect(state.hasPrefix("THAWED"))
        }
    }
}

/// The container's freezer cgroup, from its init's /proc/PID/cgroup.
func freezerPath(_ ferry: Ferry, _ name: String) throws -> String {
    let text = try String(contentsOfFile: "/proc/\(try statusPid(ferry, name))/cgroup", encoding: .utf8)
    let line = try #require(text.split(separator: "\n").first { $0.contains(":freezer:") })
    return String(line.split(separator: ":", maxSplits: 2)[2])
}
