import FerryErrors
import FerrySystem
import Foundation
import Testing

/// ContainedPath needs no privileges: openat2 and mkdirat work for any user.
///
/// The fake rootfs mirrors what a Debian rootfs and a hostile one hold:
///
///     etc/                    run/
///     var/run -> /run         var/lock -> /run/lock   (dangling: run/lock is missing)
///     inside -> etc           absolute -> /etc        escape -> ../../../../../../etc
///     first -> /second        second -> var/run       (a chain ending in /run)
///     loop-a -> loop-b        loop-b -> loop-a
@Suite struct ContainedPathTests {
    let root: String
    /// A name no host directory holds, so a file created on the host by mistake is seen.
    let unique = "ferry-contained-\(UUID().uuidString)"

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-contained-\(UUID().uuidString)").path
        let files = FileManager.default
        try files.createDirectory(atPath: root + "/etc", withIntermediateDirectories: true)
        try files.createDirectory(atPath: root + "/run", withIntermediateDirectories: true)
        try files.createDirectory(atPath: root + "/var", withIntermediateDirectories: true)
        for (link, target) in [
            ("var/run", "/run"), ("var/lock", "/run/lock"), ("inside", "etc"), ("absolute", "/etc"),
            ("escape", "../../../../../../etc"), ("first", "/second"), ("second", "var/run"),
            ("loop-a", "loop-b"), ("loop-b", "loop-a"),
        ] {
            try files.createSymbolicLink(atPath: root + "/" + link, withDestinationPath: target)
        }
    }

    private func cleanUp() { try? FileManager.default.removeItem(atPath: root) }

    private func isDirectory(_ path: String) -> Bool {
        var directory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &directory) && directory.boolValue
    }

    private func isFile(_ path: String) -> Bool {
        var directory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &directory) && !directory.boolValue
    }

    /// Where a descriptor really points, as the kernel says.
    private func location(of fd: OwnedFileDescriptor) -> String? {
        RootedLookup.linkTarget(fd.procPath)
    }

    @Test func createsMissingFileAndDirectories() throws {
        defer { cleanUp() }
        let tree = try ContainedPath(root: root)
        _ = try tree.openCreating("/etc/resolv.conf", as: .file)
        _ = try tree.openCreating("/srv/secrets/deep", as: .directory)
        #expect(isFile(root + "/etc/resolv.conf"))
        #expect(isDirectory(root + "/srv/secrets/deep"))
        // Deeper than the symlink limit: creating components is not following symlinks.
        let deep = String(repeating: "/d", count: 50)
        _ = try tree.openCreating(deep, as: .directory)
        #expect(isDirectory(root + deep))
    }

    @Test func followsSymlinksThatStayInside() throws {
        defer { cleanUp() }
        let tree = try ContainedPath(root: root)
        _ = try tree.openCreating("/inside/hosts", as: .file)
        #expect(isFile(root + "/etc/hosts"))
    }

    /// Debian's /var/run -> /run: the absolute symlink means the rootfs's /run, as it does
    /// for the container's own processes, so `--bind X:/var/run/foo` lands in ROOT/run/foo.
    @Test func absoluteSymlinkResolvesInsideTheRoot() throws {
        defer { cleanUp() }
        let tree = try ContainedPath(root: root)
        let fd = try tree.openCreating("/var/run/\(unique)", as: .directory)
        #expect(isDirectory(root + "/run/\(unique)"))
        #expect(location(of: fd) == root + "/run/\(unique)")
        #expect(!FileManager.default.fileExists(atPath: "/run/\(unique)"), "created on the host's /run")
        // Once there, it is found again the same way.
        #expect(location(of: try tree.openCreating("/var/run/\(unique)", as: .directory)) == root + "/run/\(unique)")
    }

    /// A symlink to the host's /etc, or one climbing out with `..`, is clamped at the root:
    /// it names the rootfs's own /etc, and nothing appears on the host.
    @Test(arguments: ["/absolute", "/escape"])
    func symlinksOutOfTheRootLandInsideIt(_ link: String) throws {
        defer { cleanUp() }
        let tree = try ContainedPath(root: root)
        let fd = try tree.openCreating("\(link)/\(unique)", as: .file)
        #expect(location(of: fd) == root + "/etc/\(unique)")
        #expect(isFile(root + "/etc/\(unique)"))
        #expect(!FileManager.default.fileExists(atPath: "/etc/\(unique)"), "created in the host's /etc")
    }

    @Test func chainOfSymlinksResolvesInsideTheRoot() throws {
        defer { cleanUp() }
        let tree = try ContainedPath(root: root)
        let fd = try tree.openCreating("/first/\(unique)/leaf", as: .directory)
        #expect(location(of: fd) == root + "/run/\(unique)/leaf")
        #expect(!FileManager.default.fileExists(atPath: "/run/\(unique)"))
    }

    /// /var/lock -> /run/lock with no run/lock yet: the target is created, inside the root.
    @Test func danglingSymlinkIsCreatedInsideTheRoot() throws {
        defer { cleanUp() }
        let tree = try ContainedPath(root: root)
        let fd = try tree.openCreating("/var/lock/\(unique)", as: .file)
        #expect(location(of: fd) == root + "/run/lock/\(unique)")
        #expect(isFile(root + "/run/lock/\(unique)"))
        #expect(!FileManager.default.fileExists(atPath: "/run/lock/\(unique)"))
    }

    @Test func symlinkLoopIsRefused() throws {
        defer { cleanUp() }
        let tree = try ContainedPath(root: root)
        do {
            _ = try tree.openCreating("/loop-a/x", as: .directory)
            Issue.record("a symlink loop was accepted")
        } catch {
            #expect(error.code == .unsafePath, "\(error.message)")
        }
    }

    /// `..` written in the path itself is refused outright: it is a mistake or an attack.
    @Test(arguments: ["/../../etc", "/etc/../../x", "/var/run/../../x"])
    func refusesDotDot(_ path: String) throws {
        defer { cleanUp() }
        let tree = try ContainedPath(root: root)
        do {
            _ = try tree.openCreating(path, as: .file)
            Issue.record("\(path) was accepted")
        } catch {
            #expect(error.code == .unsafePath, "\(error.message)")
        }
    }

    @Test func refusesAFileWhereADirectoryIsNeeded() throws {
        defer { cleanUp() }
        let tree = try ContainedPath(root: root)
        _ = try tree.openCreating("/etc/hostname", as: .file)
        #expect(throws: FerryError.self) { try tree.openCreating("/etc/hostname/x", as: .file) }
        #expect(throws: FerryError.self) { try tree.openCreating("/etc", as: .file) }
    }

    /// For a tool that follows symlinks by path (CRIU): the first symlink on the way, as
    /// the container names it; none on a plain path or where the rest is still missing.
    @Test func findsTheFirstSymlinkOnAPath() throws {
        defer { cleanUp() }
        let tree = try ContainedPath(root: root)
        #expect(try tree.firstSymlink(on: "/var/run/x") == "/var/run")
        #expect(try tree.firstSymlink(on: "/escape/passwd") == "/escape")
        #expect(try tree.firstSymlink(on: "/first") == "/first")
        #expect(try tree.firstSymlink(on: "/etc/resolv.conf") == nil)
        #expect(try tree.firstSymlink(on: "/srv/missing/escape") == nil)
        #expect(try tree.firstSymlink(on: "/") == nil)
    }

    @Test func refusesRelativePaths() throws {
        defer { cleanUp() }
        let tree = try ContainedPath(root: root)
        #expect(throws: FerryError.self) { try tree.openCreating("etc/x", as: .file) }
    }
}
