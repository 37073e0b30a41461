import FerryErrors
import FerrySystem
import Testing

@testable import FerryMigration

/// The path-set logic of the frozen-phase sync against a small imagined area at the freeze.
@Suite struct ChangedPathsTests {
    /// The area at the freeze: directories, and other entries with their link counts.
    struct Area {
        var directories: Set<String>
        var others: [String: UInt64]

        func kind(_ path: [UInt8]) -> ChangedPaths.Kind? {
            let path = String(decoding: path, as: UTF8.self)
            if directories.contains(path) { return .directory }
            return others[path].map { .other(links: $0) }
        }

        func contents(_ tree: [UInt8]) -> [[UInt8]] {
            let prefix = String(decoding: tree, as: UTF8.self) + "/"
            return (Array(directories) + Array(others.keys)).filter { $0.hasPrefix(prefix) }.map { Array($0.utf8) }
        }

        func plan(_ changes: ChangedPaths) throws -> FinalSyncPlan {
            try changes.transferList(kind: kind, contents: { (tree) throws(FerryError) in contents(tree) })
        }
    }

    static func paths(_ plan: FinalSyncPlan) -> [String]? {
        guard case .changed(let paths) = plan else { return nil }
        return paths.map { String(decoding: $0, as: UTF8.self) }
    }

    static func record(_ changes: inout ChangedPaths, _ mask: FanotifyMask, _ directory: String, _ name: String) {
        changes.record(mask, directory: Array(directory.utf8), name: Array(name.utf8))
    }

    @Test func aRenamedFileSendsItsNewNameAndDeletesItsOldOne() throws {
        var changes = ChangedPaths()
        Self.record(&changes, .movedFrom, "etc", "old.conf")
        Self.record(&changes, .movedTo, "etc", "new.conf")
        let area = Area(directories: ["etc"], others: ["etc/new.conf": 1])
        #expect(Self.paths(try area.plan(changes)) == ["etc/new.conf", "etc/old.conf"])
    }

    @Test func aRenamedDirectorySendsEverythingUnderItsNewName() throws {
        var changes = ChangedPaths()
        Self.record(&changes, [.movedFrom, .onDirectory], "", "data")
        Self.record(&changes, [.movedTo, .onDirectory], "srv", "data")
        let area = Area(directories: ["srv", "srv/data", "srv/data/sub"], others: ["srv/data/a": 1, "srv/data/sub/b": 1])
        #expect(Self.paths(try area.plan(changes)) == ["data", "srv/data", "srv/data/a", "srv/data/sub", "srv/data/sub/b"])
    }

    @Test func aDeletedDirectoryIsNamedOnceAndWhatItHeldIsLeftOut() throws {
        var changes = ChangedPaths()
        Self.record(&changes, .create, "tmp/build", "obj")
        Self.record(&changes, .delete, "tmp/build", "obj")
        Self.record(&changes, [.delete, .onDirectory], "tmp", "build")
        let area = Area(directories: ["tmp"], others: [:])
        #expect(Self.paths(try area.plan(changes)) == ["tmp/build"])
    }

    @Test func aCreatedDirectoryAndItsFilesAreSentAndTheAreaItselfIsDot() throws {
        var changes = ChangedPaths()
        Self.record(&changes, [.create, .onDirectory], "", "new")
        Self.record(&changes, [.create, .closeWrite], "new", "file")
        Self.record(&changes, [.attrib, .onDirectory], "", ".")
        Self.record(&changes, [.attrib, .onDirectory], "new", ".")
        let area = Area(directories: ["new"], others: ["new/file": 1])
        #expect(Self.paths(try area.plan(changes)) == [".", "new", "new/file"])
    }

    @Test func aChangedFileWithSeveralLinksNeedsTheWholeArea() throws {
        var changes = ChangedPaths()
        Self.record(&changes, .modify, "bin", "tool")
        let area = Area(directories: ["bin"], others: ["bin/tool": 2])
        guard case .whole(let reason) = try area.plan(changes) else {
            Issue.record("a hard-linked file went into the list")
            return
        }
        #expect(reason.contains("bin/tool"))
    }

    @Test func aDirectoryMovedInThenAwayIsOnlyDeleted() throws {
        var changes = ChangedPaths()
        Self.record(&changes, [.movedTo, .onDirectory], "", "incoming")
        Self.record(&changes, [.movedFrom, .onDirectory], "", "incoming")
        #expect(Self.paths(try Area(directories: [], others: [:]).plan(changes)) == ["incoming"])
    }
}
