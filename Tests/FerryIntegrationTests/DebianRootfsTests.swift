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

        /// Debian's /var/run is an absolute symlink to /run. A bind onto /var/run/foo means
        /// the container's /run/foo, as it does for the container's own processes: neither
        /// refused (as when absolute symlinks counted as escapes) nor made on the host.
        @Test func bindThroughVarRunLandsInTheContainersRun() throws {
            let scratch = try Scratch("debian-var-run")
            defer { scratch.cleanUp() }
            let ferry = scratch.ferry
            let directory = scratch.path("debian")
            try Shell.run([Repository.root + "/scripts/make-rootfs", "debian", directory])
            let varRun = try FileManager.default.destinationOfSymbolicLink(atPath: directory + "/var/run")
            #expect(varRun == "/run", "the fixture's /var/run is no longer the absolute symlink this test is about")
            let shared = scratch.path("shared")
            try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: true)
            try "from the host\n".write(toFile: shared + "/greeting", atomically: true, encoding: .utf8)
            let hostHadFoo = FileManager.default.fileExists(atPath: "/run/foo")

            try ferry.ok(["create", "deb-run", "--rootfs", directory, "--bind", "\(shared):/var/run/foo"])
            defer {
                _ = try? ferry.run(["stop", "deb-run", "--timeout", "0"])
                _ = try? ferry.run(["destroy", "deb-run"])
            }
            try ferry.ok(["start", "deb-run"])
            #expect(try ferry.exec("deb-run", "cat /run/foo/greeting") == "from the host\n")
            #expect(try ferry.exec("deb-run", "cat /var/run/foo/greeting") == "from the host\n")
            #expect(try ferry.exec("deb-run", "grep -c ' /run/foo ' /proc/self/mountinfo") == "1\n", "the bind is not mounted at /run/foo")
            #expect(hostHadFoo || !FileManager.default.fileExists(atPath: "/run/foo"), "/run/foo was created on the host")
            try ferry.ok(["stop", "deb-run", "--timeout", "20"])
        }
    }
}
