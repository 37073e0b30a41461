import Foundation
import Testing

extension Integration {
    @Suite struct RelocatedRestore {
        /// The container moves to a second state root (another simulated host) where the
        /// rootfs, the overlay template, the upper/work dirs and both bind sources all live
        /// at other host paths; the restore remaps them and its equivalence check passes.
        @Test func restoreUnderAnotherStateRootWithEveryPathMoved() throws {
            let scratch = try Scratch("relocate")
            defer { scratch.cleanUp() }
            let hostA = scratch.ferry
            let hostB = scratch.secondHost()
            let template = try Rootfs.busybox(in: scratch, named: "template-a")
            try Fixtures.installMemhog(into: template)
            let resolv = scratch.path("a/resolv.conf")
            let secrets = scratch.path("a/secrets")
            try FileManager.default.createDirectory(atPath: secrets, withIntermediateDirectories: true)
            try "nameserver 192.0.2.53\n".write(toFile: resolv, atomically: true, encoding: .utf8)
            try "s3cret\n".write(toFile: secrets + "/token", atomically: true, encoding: .utf8)
            try hostA.ok([
                "create", "mover", "--rootfs", template, "--overlay", "--bind", "\(resolv):/etc/resolv.conf",
                "--bind", "\(secrets):/run/secrets:ro", "--", "/bin/memhog", "16",
            ])
            try hostA.ok(["start", "mover"])
            #expect(try hostA.waitFor("mover", file: "/counter"))
            let sum = try hostA.read("mover", "/memsum")
            let images = scratch.path("images")
            try hostA.ok(["checkpoint", "mover", "--to", images])
            let counterAtDump = Int(try String(contentsOfFile: scratch.stateRoot + "/containers/mover/private/upper/counter", encoding: .utf8).trimmingCharacters(in: .newlines)) ?? -1

            // Move everything: the container's directory to host B, the template, the binds.
            let bRoot = scratch.path("state-b")
            try FileManager.default.createDirectory(atPath: bRoot + "/containers", withIntermediateDirectories: true)
            try Shell.run(["cp", "-a", scratch.stateRoot + "/containers/mover", bRoot + "/containers/mover"])
            try hostA.ok(["destroy", "mover"])
            let templateB = scratch.path("template-b")
            try FileManager.default.moveItem(atPath: template, toPath: templateB)
            try FileManager.default.createDirectory(atPath: scratch.path("b"), withIntermediateDirectories: true)
            try FileManager.default.moveItem(atPath: resolv, toPath: scratch.path("b/resolv.conf"))
            try FileManager.default.moveItem(atPath: secrets, toPath: scratch.path("b/secrets-moved"))

            let restored = try hostB.run([
                "restore", "mover", "--from", images, "--overlay-template", templateB,
                "--bind-source", "/etc/resolv.conf=\(scratch.path("b/resolv.conf"))",
                "--bind-source", "/run/secrets=\(scratch.path("b/secrets-moved"))",
            ])
            #expect(restored.succeeded, "restore failed: \(restored.stderr)")
            #expect(restored.stdout.contains("mount tree verified"))
            #expect(try hostB.counter("mover") >= counterAtDump, "the counter was reset")
            let now = try hostB.counter("mover")
            #expect(try eventually { try hostB.counter("mover") > now })
            #expect(try hostB.read("mover", "/memsum") == sum)
            #expect(try hostB.read("mover", "/etc/resolv.conf") == "nameserver 192.0.2.53")
            #expect(try hostB.read("mover", "/run/secrets/token") == "s3cret")
            let overlay = try #require(mountEntry(at: bRoot + "/containers/mover/rootfs"), "no overlay root on host B")
            #expect(overlay.fsType == "overlay")
            let options = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
                .split(separator: "\n").first { $0.contains(" \(bRoot)/containers/mover/rootfs ") } ?? ""
            #expect(options.contains("upperdir=\(bRoot)/containers/mover/private/upper") && options.contains("lowerdir=\(templateB)"), "\(options)")
        }
    }
}
