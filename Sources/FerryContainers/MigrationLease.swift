import FerryErrors
import FerrySystem
import Foundation
import Glibc

/// The mark an arriving container carries on the target until the source commits: who owns
/// it, and until when the target may keep it without a commit.
///
/// One owner at a time: a restored copy stays frozen while `pending`; the source's commit
/// makes it `committed` (and it runs), or its own monitor fences it when the deadline passes
/// first (`fenced`: killed, images kept until the source or an abort says what to do). The
/// source resumes its own copy only after the target acknowledged an abort, or after the
/// lease has run out: then the target's copy cannot run any more.
public struct MigrationLease: Codable, Sendable, Hashable {
    public enum State: String, Codable, Sendable, Hashable {
        /// Arrived, waiting for the source's commit.
        case pending
        /// Fenced by its monitor: the lease ran out before a commit.
        case fenced
    }

    public var state: State
    /// BootClock seconds after which a pending copy is fenced; nil for a stopped arrival
    /// (an offline migration leaves nothing running to fence).
    public var deadline: Double?

    /// A commit needs this much lease left: the monitor fences at the deadline, so a commit
    /// that checked close to it could land after the fence.
    public static let commitMargin = 2.0

    public init(state: State, deadline: Double?) {
        self.state = state
        self.deadline = deadline
    }

    public static func path(_ layout: ContainerLayout) -> String { "\(layout.directory)/.incoming" }

    /// The mark, or nil for a container that is fully this host's.
    public static func read(_ layout: ContainerLayout) -> MigrationLease? {
        let path = path(layout)
        guard access(path, F_OK) == 0 else { return nil }
        // An unreadable mark still means "not committed": treat it as pending, no deadline.
        return (try? JSONFile.read(MigrationLease.self, from: path, what: "migration mark")) ?? MigrationLease(state: .pending, deadline: nil)
    }

    public func write(_ layout: ContainerLayout) throws(FerryError) {
        try JSONFile.write(self, to: Self.path(layout), durable: true)
    }

    /// Whether the source may still commit now.
    public func allowsCommit(at now: Double) -> Bool {
        guard state == .pending else { return false }
        return deadline.map { now < $0 - Self.commitMargin } ?? true
    }

    /// Whether the monitor must fence the copy now.
    public func mustFence(at now: Double) -> Bool {
        guard state == .pending, let deadline else { return false }
        return now >= deadline
    }
}

extension MigrationLease {
    /// A migrated copy that must never run (its lease ran out, its post-copy failed):
    /// marked fenced first, so a commit arriving now is refused, then every task killed.
    public static func fence(_ layout: ContainerLayout, _ cgroup: CgroupFreezer) {
        try? MigrationLease(state: .fenced, deadline: nil).write(layout)
        cgroup.killAll()
    }
}
