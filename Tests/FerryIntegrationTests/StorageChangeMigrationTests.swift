import Foundation
import Testing

extension Integration {
    @Suite struct StorageChangeMigration {
        /// A live migration that moves the private area from a directory on the host's
        /// filesystem onto an ext4 image of its own: the root's superblock changes type and
        /// options, which is the host's business, so the restore check must pass.
        @Test func liveMigrationOntoInsulatedStorage() throws {
            let scratch = try Scratch("migrate-dst-insulated")
            defer { scratch.cleanUp() }
            let hosts = try TestHosts(scratch)
            defer { hosts.tearDown() }
            let rootfs = try Rootfs.busybox(in: scratch)
            let a = hosts.ferry(1)
            let b = hosts.ferry(2)
            try a.plain.ok(["create", "moving", "--rootfs", rootfs, "--", "/bin/sh", "-c", Migration.counter])
            try a.plain.ok(["start", "moving"])
            #expect(try a.plain.waitFor("moving", file: "/counter"))
            let before = try a.plain.counter("moving")
            let result = try a.migrate("moving", to: 2, ["--online", "--dst-storage", "insulated", "--dst-image", "64M"])
            #expect(result.succeeded, "\(result.stderr)")
            #expect(try b.plain.counter("moving") >= before, "the counter was reset")
            let privateArea = hosts.root(2) + "/containers/moving/private"
            #expect(mountEntry(at: privateArea)?.fsType == "ext4", "the target's private area is not its own ext4")
            let status = try b.plain.ok(["status", "moving", "--json"]).stdout
            #expect(status.contains("insulated"), "\(status)")
        }
    }
}
