import FerryErrors
import FerrySystem
import Foundation
import Testing

/// ContainedPath needs no privileges: openat2 and mkdirat work for any user.
@Suite struct ContainedPathTests {
    let root: String

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-contained-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root + "/etc", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: root + "/escape", withDestinationPath: "../../../../../../etc")
        try FileManager.default.createSymbolicLink(atPath: root + "/absolute", withDestinationPath: "/etc")
        try FileManager.default.createSymbolicLink(atPath: root + "/inside", withDestinationPath: "etc")
    }

    private func cleanUp() { try? FileManager.default.removeItem(atPath: root) }

    @Test func createsMissingFileAndDirectories() throws {
        defer { cleanUp() }
        let tree = try ContainedPath(root: root)
        _ = try tree.openCreating("/etc/resolv.conf", as: .file)
        _ = try tree.openCreating("/run/secrets/deep", as: .directory)
        var isDirectory: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: root + "/etc/resolv.conf", isDirectory: &isDirectory) && !isDirectory.boolValue)
        #expect(FileManager.default.fileExists(atPath: root + "/run/secrets/deep", isDirectory: &isDirectory) && isDirectory.boolValue)
    }

    @Test func followsSymlinksThatStayInside() throws {
        defer { cleanUp() }
        let tree = try ContainedPath(root: root)
        _ = try tree.openCreating("/inside/hosts", as: .file)
        #expect(FileManager.default.fileExists(atPath: root + "/etc/hosts"))
    }

    @Test(arguments: ["/escape/passwd", "/absolute/passwd", "/../../etc", "/etc/../../x"])
    func refusesEscapes(_ path: String) throws {
        defer { cleanUp() }
        let tree = try ContainedPath(root: root)
        do {
            _ = try tree.openCreating(path, as: .file)
            Issue.record("\(path) was accepted")
        } catch {
            #expect(error.code == .unsafePath, "\(error.message)")
        }
        #expect(!FileManager.default.fileExists(atPath: "/etc/passwd.ferry-test"))
    }

    @Test func refusesRelativePaths() throws {
        defer { cleanUp() }
        let tree = try ContainedPath(root: root)
        #expect(throws: FerryError.self) { try tree.openCreating("etc/x", as: .file) }
    }
}
