import FerrySystem
import Foundation
import Testing

extension Integration {
    /// `checkpoint --export` and `restore --import`: a running container moves by hand to
    /// another state root under a new name, memory and files continuing; a damaged or
    /// truncated archive, a taken name and a missing bind source are refused, each leaving
    /// nothing behind.
    @Suite struct ExportImport {
        @Test func exportedCounterContinuesUnderANewNameOnAnotherRoot() throws {
            let scratch = try Scratch("export")
            defer { scratch.cleanUp() }
            let (hostA, hostB, rootfs) = try Self.twoHostsAndAMemhogRootfs(scratch)
            let data = scratch.path("a-data")
            try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
            try "from-a\n".write(toFile: data + "/note", atomically: true, encoding: .utf8)
            try hostA.ok([
                "create", "orig", "--rootfs", rootfs, "--storage", "insulated", "--image", "64M", "--bind", "\(data):/data:ro", "--", "/bin/memhog", "16",
            ])
            try hostA.ok(["start", "orig"])
            #expect(try hostA.waitFor("orig", file: "/counter"))
            _ = try hostA.exec("orig", "echo written-before-export > /root/mark")
            let sum = try hostA.read("orig", "/memsum")
            let archive = scratch.path("orig.tar.zst")
            let exported = try hostA.ok(["checkpoint", "orig", "--export", archive]).stdout
            #expect(exported.contains("exported it to \(archive)"), "\(exported)")
            let magic = try Data(contentsOf: URL(fileURLWithPath: archive)).prefix(4)
            #expect(Array(magic) == [0x28, 0xB5, 0x2F, 0xFD], "a .zst export is not zstd")
            #expect(try #require(fileStatus(archive)).st_mode & 0o777 == 0o600, "the archive (memory, files) is readable by others")
            #expect(try hostA.ok(["status", "orig"]).stdout.contains("status:  stopped"))
            // The counter as the dump left it, read from the stopped container's own image.
            let counterAtDump = try Self.counterInImage(scratch.stateRoot + "/containers/orig/private.img")
            try hostA.ok(["destroy", "orig"])

            // Host B has the bind's data elsewhere: refused with the fix, nothing left.
            let moved = scratch.path("b-data")
            try FileManager.default.moveItem(atPath: data, toPath: moved)
            let missing = try hostB.run(["restore", "--import", archive, "--name", "copy"])
            #expect(!missing.succeeded && missing.stderr.contains("--bind-source /data=HOSTPATH"), "\(missing.stderr)")
            #expect(missing.stderr.split(separator: "\n").count == 1, "\(missing.stderr)")
            #expect(try Self.leftovers(scratch.path("state-b")).isEmpty)

            let imported = try hostB.ok(["restore", "--import", archive, "--name", "copy", "--bind-source", "/data=\(moved)"]).stdout
            #expect(imported.contains("imported copy") && imported.contains("mount tree verified"), "\(imported)")
            #expect(try hostB.counter("copy") >= counterAtDump, "the counter went back")
            let now = try hostB.counter("copy")
            #expect(try eventually { try hostB.counter("copy") > now }, "the counter does not continue")
            #expect(try hostB.read("copy", "/memsum") == sum)
            #expect(try hostB.read("copy", "/root/mark") == "written-before-export")
            #expect(try hostB.read("copy", "/data/note") == "from-a")
            #expect(try hostB.read("copy", "/proc/sys/kernel/hostname") == "orig", "the hostname changed with the name")
            let status = try hostB.ok(["status", "copy"]).stdout
            #expect(status.contains("status:  running") && status.contains("insulated") && status.contains("used by a restore"), "\(status)")
            #expect(mountEntry(at: scratch.path("state-b/containers/copy/private"))?.fsType == "ext4")
            // Its cgroups follow the new name.
            let freezer = try freezerPath(hostB, "copy")
            #expect(freezer.hasPrefix("/ferry/") && freezer.hasSuffix("/copy"), "\(freezer)")

            // The name is taken now: refused, naming --name.
            let taken = try hostB.run(["restore", "--import", archive, "--name", "copy"])
            #expect(!taken.succeeded && taken.stderr.contains("--name NEW"), "\(taken.stderr)")
            #expect(try Self.leftovers(scratch.path("state-b")) == ["copy"])
        }

        @Test func damagedOrTruncatedArchivesAreRefusedAndLeaveNothing() throws {
            let scratch = try Scratch("import-bad")
            defer { scratch.cleanUp() }
            let (hostA, hostB, rootfs) = try Self.twoHostsAndAMemhogRootfs(scratch)
            try hostA.ok(["create", "src", "--rootfs", rootfs, "--", "/bin/memhog", "8"])
            try hostA.ok(["start", "src"])
            #expect(try hostA.waitFor("src", file: "/counter"))
            let archive = scratch.path("src.tar")
            let refusedLive = try hostA.run(["checkpoint", "src", "--export", archive, "--leave-running"])
            #expect(!refusedLive.succeeded && refusedLive.stderr.contains("--leave-running"), "\(refusedLive.stderr)")
            let badName = try hostA.run(["checkpoint", "src", "--export", scratch.path("src.zip")])
            #expect(!badName.succeeded && badName.stderr.contains("src.zip"), "\(badName.stderr)")
            #expect(try hostA.ok(["status", "src"]).stdout.contains("status:  running"), "a refused export stopped the container")
            try hostA.ok(["checkpoint", "src", "--export", archive])
            let bytes = try Data(contentsOf: URL(fileURLWithPath: archive))

            // One byte flipped in the images (the middle), one in the private area (near the
            // end), and the file cut short.
            var variants: [(name: String, data: Data, mentions: String)] = []
            for (label, offset, mention) in [("images", bytes.count / 2, "checkpoint/"), ("private", bytes.count - 64 * 1024, "private.tar")] {
                var copy = bytes
                copy[offset] ^= 0x01
                variants.append((label, copy, mention))
            }
            variants.append(("truncated", bytes.prefix(bytes.count * 2 / 3), "cannot be unpacked"))
            for variant in variants {
                let path = scratch.path("bad-\(variant.name).tar")
                try variant.data.write(to: URL(fileURLWithPath: path))
                let result = try hostB.run(["restore", "--import", path])
                #expect(!result.succeeded, "\(variant.name): imported")
                #expect(result.stderr.contains(path) && result.stderr.contains(variant.mentions), "\(variant.name): \(result.stderr)")
                #expect(result.stderr.split(separator: "\n").count == 1, "\(variant.name): \(result.stderr)")
                #expect(try Self.leftovers(scratch.path("state-b")).isEmpty, "\(variant.name) left something behind")
                #expect(!(try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)).contains(scratch.path("state-b")))
            }
            // A container on a block device: the device cannot travel in a file; refused
            // before any dump, naming it.
            let image = scratch.path("disk.img")
            try Shell.run(["truncate", "-s", "32M", image])
            let device = try Shell.run(["losetup", "--find", "--show", image]).trimmingCharacters(in: .whitespacesAndNewlines)
            defer { _ = try? Shell.run(["losetup", "-d", device]) }
            try hostA.ok(["create", "dev", "--rootfs", rootfs, "--storage", "insulated", "--device", device, "--", "/bin/memhog", "8"])
            try hostA.ok(["start", "dev"])
            let onDevice = try hostA.run(["checkpoint", "dev", "--export", scratch.path("dev.tar")])
            #expect(!onDevice.succeeded && onDevice.stderr.contains(device) && onDevice.stderr.split(separator: "\n").count == 1, "\(onDevice.stderr)")
            #expect(try hostA.ok(["status", "dev"]).stdout.contains("status:  running"), "a refused export stopped the container")
            #expect(!FileManager.default.fileExists(atPath: scratch.path("dev.tar")))
            try hostA.ok(["stop", "dev", "--timeout", "0"])

            // The intact archive still imports under its own name.
            try hostB.ok(["restore", "--import", archive])
            #expect(try hostB.ok(["status", "src"]).stdout.contains("status:  running"))
        }

        /// An overlay container carries its upper layer (a whiteout included); the template is
        /// the host's, so the import asks for its place there. What a killed import left in
        /// staging is cleared by the next one.
        @Test func overlayUpperTravelsAndTheTemplateIsAskedFor() throws {
            let scratch = try Scratch("export-overlay")
            defer { scratch.cleanUp() }
            let (hostA, hostB, template) = try Self.twoHostsAndAMemhogRootfs(scratch)
            try hostA.ok(["create", "ov", "--rootfs", template, "--overlay", "--", "/bin/memhog", "8"])
            try hostA.ok(["start", "ov"])
            #expect(try hostA.waitFor("ov", file: "/counter"))
            _ = try hostA.exec("ov", "echo upper > /etc/added; rm /etc/inittab")
            let sum = try hostA.read("ov", "/memsum")
            let archive = scratch.path("ov.tar")
            try hostA.ok(["checkpoint", "ov", "--export", archive])
            try hostA.ok(["destroy", "ov"])
            let templateB = scratch.path("template-b")
            try FileManager.default.moveItem(atPath: template, toPath: templateB)
            let stale = scratch.path("state-b/containers/.importing/archive")
            try FileManager.default.createDirectory(atPath: stale, withIntermediateDirectories: true)
            try "left by a killed import\n".write(toFile: stale + "/junk", atomically: true, encoding: .utf8)

            let missing = try hostB.run(["restore", "--import", archive])
            #expect(!missing.succeeded && missing.stderr.contains("--overlay-template DIR") && missing.stderr.contains(template), "\(missing.stderr)")
            #expect(try Self.leftovers(scratch.path("state-b")).isEmpty)
            try hostB.ok(["restore", "--import", archive, "--overlay-template", templateB])
            #expect(try Self.leftovers(scratch.path("state-b")) == ["ov"])
            #expect(try hostB.read("ov", "/memsum") == sum)
            #expect(try hostB.read("ov", "/etc/added") == "upper")
            #expect(!(try hostB.run(["exec", "ov", "--", "test", "-e", "/etc/inittab"]).succeeded), "the whiteout did not travel")
            #expect(FileManager.default.fileExists(atPath: templateB + "/etc/inittab"), "the template was changed")
            let now = try hostB.counter("ov")
            #expect(try eventually { try hostB.counter("ov") > now })
        }

        /// Two simulated hosts and a busybox rootfs with memhog in it.
        static func twoHostsAndAMemhogRootfs(_ scratch: Scratch) throws -> (Ferry, Ferry, String) {
            let rootfs = try Rootfs.busybox(in: scratch)
            try Fixtures.installMemhog(into: rootfs)
            return (scratch.ferry, scratch.secondHost(), rootfs)
        }

        /// Everything in a state root's containers directory, hidden staging included.
        static func leftovers(_ root: String) throws -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: root + "/containers")) ?? []).sorted()
        }

        /// /counter inside a stopped container's ext4 image, read with debugfs (no mount).
        static func counterInImage(_ image: String) throws -> Int {
            let text = try Shell.run(["debugfs", "-R", "cat /rootfs/counter", image])
            return Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        }
    }
}
