import Foundation
import Testing

extension Integration {
    @Suite struct Storage {
        @Test func insulatedImageIsMountedWhileRunningOnly() throws {
            let scratch = try Scratch("insulated")
            defer { scratch.cleanUp() }
            let ferry = scratch.ferry
            let rootfs = try Rootfs.busybox(in: scratch)
            try ferry.ok(["create", "i1", "--rootfs", rootfs, "--storage", "insulated", "--image", "64M", "--", "/bin/sh", "-c", "echo hi > /on-image; sleep 1000"])
            let privateArea = scratch.stateRoot + "/containers/i1/private"
            let image = scratch.stateRoot + "/containers/i1/private.img"
            #expect(!isMountPoint(privateArea), "the image stays mounted after create")
            #expect(loopDevices(backing: image).isEmpty)

            try ferry.ok(["start", "i1"])
            let mount = try #require(mountEntry(at: privateArea), "the image is not mounted while running")
            #expect(mount.fsType == "ext4")
            #expect(loopDevices(backing: image) == [mount.source], "the private area is not on a loop device of its image")
            #expect(try eventually { FileManager.default.fileExists(atPath: privateArea + "/rootfs/on-image") })

            try ferry.ok(["stop", "i1", "--timeout", "0"])
            #expect(!isMountPoint(privateArea), "the image is still mounted after stop")
            #expect(try eventually { loopDevices(backing: image).isEmpty }, "the loop device was not detached")
            // The data is on the image: mount it again by starting, and read it back.
            try ferry.ok(["start", "i1"])
            #expect(try ferry.exec("i1", "cat /on-image") == "hi\n")
        }

        @Test func overlayWritesOnlyToItsUpperDirectory() throws {
            let scratch = try Scratch("overlay")
            defer { scratch.cleanUp() }
            let ferry = scratch.ferry
            let template = try Rootfs.busybox(in: scratch, named: "template")
            let before = try treeChecksum(template)
            try ferry.ok(["create", "o1", "--rootfs", template, "--overlay", "--", "/bin/sh", "-c", "sleep 1000"])
            try ferry.ok(["start", "o1"])
            _ = try ferry.exec("o1", "echo new > /etc/new-file; echo changed >> /etc/passwd; rm /bin/vi; mkdir -p /var/lib/app")
            #expect(try ferry.exec("o1", "cat /etc/new-file") == "new\n")
            try ferry.ok(["stop", "o1", "--timeout", "0"])

            let upper = scratch.stateRoot + "/containers/o1/private/upper"
            #expect(FileManager.default.fileExists(atPath: upper + "/etc/new-file"))
            #expect(try String(contentsOfFile: upper + "/etc/passwd", encoding: .utf8).hasSuffix("changed\n"))
            #expect(try treeChecksum(template) == before, "the template changed")
            #expect(!isMountPoint(scratch.stateRoot + "/containers/o1/rootfs"), "the overlay is still mounted")
        }

        @Test func bindMountsAreVisibleAndCannotEscape() throws {
            let scratch = try Scratch("binds")
            defer { scratch.cleanUp() }
            let ferry = scratch.ferry
            let rootfs = try Rootfs.busybox(in: scratch)
            let resolv = scratch.path("resolv.conf")
            try "nameserver 192.0.2.53\n".write(toFile: resolv, atomically: true, encoding: .utf8)
            let secrets = scratch.path("secrets")
            try FileManager.default.createDirectory(atPath: secrets, withIntermediateDirectories: true)
            try "s3cret\n".write(toFile: secrets + "/token", atomically: true, encoding: .utf8)
            try ferry.ok([
                "create", "b1", "--rootfs", rootfs, "--bind", "\(resolv):/etc/resolv.conf",
                "--bind", "\(secrets):/run/secrets:ro", "--", "/bin/sh", "-c", "sleep 1000",
            ])
            try ferry.ok(["start", "b1"])
            #expect(try ferry.exec("b1", "cat /etc/resolv.conf") == "nameserver 192.0.2.53\n")
            #expect(try ferry.exec("b1", "cat /run/secrets/token") == "s3cret\n")
            #expect(try ferry.exec("b1", "touch /run/secrets/x 2>&1 || echo refused").contains("refused"), "ro bind is writable")
            #expect(try ferry.exec("b1", "grep ' /etc/resolv.conf ' /proc/self/mountinfo | wc -l") == "1\n")

            // '..' in a destination is refused at create time, and nothing is left behind.
            let dots = try ferry.run(["create", "b2", "--rootfs", rootfs, "--bind", "\(resolv):/../../etc/x"])
            #expect(!dots.succeeded && dots.stderr.contains(".."))
            #expect(!FileManager.default.fileExists(atPath: scratch.stateRoot + "/containers/b2"))

            // A symlink in the rootfs that climbs out of it stops at the rootfs's own root,
            // as it does for the container's processes: the bind lands in ROOT/tmp.
            let evil = try Rootfs.busybox(in: scratch, named: "evil")
            try FileManager.default.createSymbolicLink(atPath: evil + "/escape", withDestinationPath: "../../../../../../../../tmp")
            try ferry.ok(["create", "b3", "--rootfs", evil, "--bind", "\(resolv):/escape/ferry-escaped", "--", "/bin/sh", "-c", "sleep 1000"])
            try ferry.ok(["start", "b3"])
            #expect(!FileManager.default.fileExists(atPath: "/tmp/ferry-escaped"), "a file was created outside the rootfs")
            #expect(try ferry.exec("b3", "cat /tmp/ferry-escaped") == "nameserver 192.0.2.53\n")
        }
    }
}

struct MountEntry {
    var source: String
    var fsType: String
}

func mountEntry(at path: String) -> MountEntry? {
    let text = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
    for line in text.split(separator: "\n") {
        let parts = line.components(separatedBy: " - ")
        let head = parts[0].split(separator: " ")
        guard parts.count == 2, head.count > 4, head[4] == path else { continue }
        let tail = parts[1].split(separator: " ")
        return MountEntry(source: String(tail[1]), fsType: String(tail[0]))
    }
    return nil
}

func isMountPoint(_ path: String) -> Bool { mountEntry(at: path) != nil }

func loopDevices(backing image: String) -> [String] {
    let names = ((try? FileManager.default.contentsOfDirectory(atPath: "/sys/block")) ?? []).filter { $0.hasPrefix("loop") }
    return names.compactMap { name in
        let file = (try? String(contentsOfFile: "/sys/block/\(name)/loop/backing_file", encoding: .utf8)) ?? ""
        return file.trimmingCharacters(in: .newlines) == image ? "/dev/\(name)" : nil
    }.sorted()
}
