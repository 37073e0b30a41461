import FerryContainers
import Foundation
import Testing

/// The rule that keeps one owner: a commit needs lease left, a fence needs it gone.
@Suite struct MigrationLeaseTests {
    @Test func aCommitNeedsLeaseLeftBeyondTheMargin() {
        let lease = MigrationLease(state: .pending, deadline: 100)
        #expect(lease.allowsCommit(at: 90))
        #expect(!lease.allowsCommit(at: 100 - MigrationLease.commitMargin))
        #expect(!lease.allowsCommit(at: 101))
    }

    @Test func commitAndFenceNeverBothHold() {
        let lease = MigrationLease(state: .pending, deadline: 100)
        for tenth in 0...2000 {
            let now = Double(tenth) / 10
            #expect(!(lease.allowsCommit(at: now) && lease.mustFence(at: now)), "both at \(now)")
        }
    }

    @Test func aFencedCopyIsNeverCommittedAndNotFencedTwice() {
        let fenced = MigrationLease(state: .fenced, deadline: nil)
        #expect(!fenced.allowsCommit(at: 0))
        #expect(!fenced.mustFence(at: 1e9))
    }

    @Test func anOfflineArrivalHasNoDeadline() {
        let stopped = MigrationLease(state: .pending, deadline: nil)
        #expect(stopped.allowsCommit(at: 1e9))
        #expect(!stopped.mustFence(at: 1e9))
    }

    @Test func theMarkRoundTripsAndAnUnreadableOneMeansPending() throws {
        let directory = NSTemporaryDirectory() + "ferry-lease-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let layout = ContainerLayout(directory: directory)
        #expect(MigrationLease.read(layout) == nil)
        try MigrationLease(state: .pending, deadline: 42).write(layout)
        #expect(MigrationLease.read(layout) == MigrationLease(state: .pending, deadline: 42))
        try "migrating\n".write(toFile: MigrationLease.path(layout), atomically: true, encoding: .utf8)
        #expect(MigrationLease.read(layout)?.state == .pending)
    }
}
