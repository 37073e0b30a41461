import Foundation

/// Test programs built from Tests/Fixtures into a rootfs.
enum Fixtures {
    /// Compiles memhog.c statically into `rootfs/bin/memhog`.
    static func installMemhog(into rootfs: String) throws {
        try Shell.run(["gcc", "-static", "-O2", "-o", rootfs + "/bin/memhog", Repository.root + "/Tests/Fixtures/memhog.c"])
    }

    /// Compiles mapwriter.c (writes through a shared mapping only) statically into
    /// `rootfs/bin/mapwriter`.
    static func installMapWriter(into rootfs: String) throws {
        try Shell.run(["gcc", "-static", "-O2", "-o", rootfs + "/bin/mapwriter", Repository.root + "/Tests/Fixtures/mapwriter.c"])
    }

    /// Compiles sharework.c (the open-files workload on network shares) statically into
    /// `rootfs/bin/sharework`.
    static func installShareWork(into rootfs: String) throws {
        try Shell.run(["gcc", "-static", "-O2", "-o", rootfs + "/bin/sharework", Repository.root + "/Tests/Fixtures/sharework.c"])
    }

    /// Compiles hostreach.c (the isolation tests' probes of host-wide kernel interfaces)
    /// statically into `rootfs/bin/hostreach`.
    static func installHostReach(into rootfs: String) throws {
        try Shell.run(["gcc", "-static", "-O2", "-o", rootfs + "/bin/hostreach", Repository.root + "/Tests/Fixtures/hostreach.c"])
    }

    /// Compiles tcpstream.c (echo server, checking client, ping, NA watcher) statically
    /// into `rootfs/bin/tcpstream`; the tests run the same binary on the hosts.
    static func installTCPStream(into rootfs: String) throws {
        try Shell.run(["gcc", "-static", "-O2", "-o", rootfs + "/bin/tcpstream", Repository.root + "/Tests/Fixtures/tcpstream.c"])
    }
}

/// Reads a small file inside a running container through `ferry exec`.
extension Ferry {
    func read(_ name: String, _ path: String) throws -> String {
        try exec(name, "cat \(path)").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The number a counter loop last wrote; -1 if none came within a few seconds. The
    /// loop's `echo $i > FILE` truncates before it writes, so one read in a while finds
    /// the file empty: that is not a reset, and is read again.
    func counter(_ name: String, _ path: String = "/counter") throws -> Int {
        var value = -1
        _ = try eventually(5) {
            value = Int(try read(name, path)) ?? -1
            return value >= 0
        }
        return value
    }

    /// Waits until a file exists inside the container (set-up scripts touch /ready).
    func waitFor(_ name: String, file: String, seconds: Double = 20) throws -> Bool {
        try eventually(seconds) { try run(["exec", name, "--", "test", "-e", file]).succeeded }
    }
}
