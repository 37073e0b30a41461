import FerryContainers
import FerryErrors
import Foundation
import Testing

@testable import FerryMigration

/// The journal on disk: what `ferry recover` reads after a crash.
@Suite struct MigrationJournalTests {
    @Test func savedJournalLoadsBackAndIsRemoved() throws {
        let directory = NSTemporaryDirectory() + "ferry-journal-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let root = StateRoot(path: directory)
        let name = try ContainerName("web")
        #expect(try MigrationJournal.load(root: root, name: name) == nil)
        var journal = MigrationJournal(
            container: "web", target: SSHTarget(destination: "root@h2", configFile: "/etc/ssh_config"), remoteFerry: "/usr/bin/ferry",
            imagesDirectory: "/x/images", dumpDevice: DumpDevice(uuid: "u", directory: "d"), undo: [.abortTarget, .restoreSource])
        journal.committed = true
        try journal.save(root: root)
        let loaded = try #require(try MigrationJournal.load(root: root, name: name))
        #expect(loaded.undo == [.abortTarget, .restoreSource] && loaded.committed)
        #expect(loaded.dumpDevice == DumpDevice(uuid: "u", directory: "d") && loaded.target.destination == "root@h2")
        MigrationJournal.remove(root: root, name: name)
        #expect(try MigrationJournal.load(root: root, name: name) == nil)
    }

    @Test func aCorruptJournalIsAnErrorNamingTheFile() throws {
        let directory = NSTemporaryDirectory() + "ferry-journal-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let root = StateRoot(path: directory)
        try FileManager.default.createDirectory(atPath: directory + "/migrations", withIntermediateDirectories: true)
        try "{not json".write(toFile: directory + "/migrations/web.json", atomically: true, encoding: .utf8)
        do {
            _ = try MigrationJournal.load(root: root, name: try ContainerName("web"))
            Issue.record("a corrupt journal loaded")
        } catch {
            #expect(error.code == .corrupt && error.message.contains("/migrations/web.json"))
        }
    }
}

/// How a copy's exit status is judged.
@Suite struct RsyncTests {
    @Test func vanishedFilesAreFineLiveButNotFrozen() {
        #expect(Rsync.acceptable(status: 0, exact: true))
        #expect(Rsync.acceptable(status: 24, exact: false))
        #expect(!Rsync.acceptable(status: 24, exact: true))
        #expect(!Rsync.acceptable(status: 23, exact: false))
    }

    @Test func bytesSentAreReadFromTheStats() {
        #expect(Rsync.bytesSent(in: "Number of files: 3\nTotal bytes sent: 1,234,567\nTotal bytes received: 9\n") == 1_234_567)
        #expect(Rsync.bytesSent(in: "nothing") == 0)
    }
}

/// The agent's stderr is read as it comes and its last words kept.
@Suite struct StderrDrainTests {
    @Test func keepsTheLastLineOnceTheWriterCloses() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        let drain = StderrDrain(fd: .init(taking: fds[0]), logger: .init(label: "test"))
        let text = "Warning: one\nssh: connect to host h2 port 22: No route to host\n\n"
        _ = text.withCString { write(fds[1], $0, strlen($0)) }
        close(fds[1])
        #expect(drain.lastLine(waitingForEndUpTo: 10) == "ssh: connect to host h2 port 22: No route to host")
    }
}

/// The targets `ferry recover --forget-target` gave up on, kept until the next contact.
@Suite struct ForgottenTargetTests {
    @Test func eachContainerHasItsOwnRecordFoundByTarget() throws {
        let directory = NSTemporaryDirectory() + "ferry-forgotten-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let root = StateRoot(path: directory)
        #expect(ForgottenTarget.all(root, on: "root@h2").isEmpty)
        let web = ForgottenTarget(container: "web", destination: "root@h2", committed: false)
        let db = ForgottenTarget(container: "db", destination: "root@h3", committed: true)
        try web.save(root)
        try db.save(root)
        #expect(ForgottenTarget.all(root, on: "root@h2") == [web])
        #expect(ForgottenTarget.all(root, on: "root@h3") == [db])
        web.remove(root)
        #expect(ForgottenTarget.all(root, on: "root@h2").isEmpty)
        #expect(ForgottenTarget.all(root, on: "root@h3") == [db])
    }

    /// The undos that need the target, and until when its copy may live.
    @Test func forgettingSkipsOnlyTheTargetsUndos() {
        let until = Date(timeIntervalSince1970: 1000)
        #expect(MigrationRun.targetFacing(.abortTargetOrOutwaitLease(until: until)) == until)
        #expect(MigrationRun.targetFacing(.abortTarget) == .distantPast)
        #expect(MigrationRun.targetFacing(.restoreSource) == nil)
        #expect(MigrationRun.targetFacing(.unmountSourcePrivateArea) == nil)
    }
}
