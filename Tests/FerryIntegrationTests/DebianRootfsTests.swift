import Foundation
import Testing

extension Integration {
    /// The Debian minbase rootfs (debootstrap'd once, cached outside the repo) runs as a
    /// container, both from a directory and straight from the cached tarball as an overlay.
    @Suite struct DebianRootfs {
        static let tarball = (ProcessInfo.processInfo.environment["FERRY_CACHE"] ?? "/var/cache/ferry") + "/rootfs/debian-bookworm-minbase-v1.tar"

        @Test func debianRootfsRunsFromDirectoryAndTarball() throws {
            let scratch = try Scratch("debian")
            defer { scratch.cleanUp() }
            let ferry = scratch.ferry
            let directory = scratch.path("debian")
            try Shell.run([Repository.root + "/scripts/make-rootfs", "debian", directory])

            try ferry.ok(["create", "deb-dir", "--rootfs", directory])
            try ferry.ok(["start", "deb-dir"])
            #expect(try ferry.exec("deb-dir", "cat /etc/debian_version").hasPrefix("12."))
            #expect(try ferry.exec("deb-dir", "cat /proc/1/comm") == "init\n", "the rootfs's own /sbin/init is not pid 1")
            #expect(try ferry.exec("deb-dir", "dpkg-query -W -f '${Status}' autofs") == "install ok installed")
            // The init handles SIGTERM, so a clean stop needs no SIGKILL.
            try ferry.ok(["stop", "deb-dir", "--timeout", "20"])

            try ferry.ok(["create", "deb-tar", "--rootfs", Self.tarball, "--overlay", "--", "/bin/sleep", "1000"])
            try ferry.ok(["start", "deb-tar"])
            #expect(try ferry.exec("deb-tar", "cat /etc/debian_version").hasPrefix("12."))
            let templates = try FileManager.default.contentsOfDirectory(atPath: scratch.stateRoot + "/templates")
            #expect(templates.count == 1, "the tarball was not unpacked once into templates/: \(templates)")
        }
    }
}
