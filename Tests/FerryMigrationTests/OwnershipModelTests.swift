import FerryContainers
import Foundation
import Testing

@testable import FerryMigration

/// A model of one live migration, explored exhaustively: every interleaving of the
/// protocol's steps with crashes (source ferry, target agent, restored init), a link that
/// goes down and up, and the clock passing the lease. The decisions come from the code
/// itself: `MigrationLease` (when a commit is allowed, when the monitor fences) and
/// `Recovery` (what `ferry recover` does with what the target holds).
///
/// Claims checked in every reachable state: never two running copies; a complete set of
/// images exists whenever no copy runs or can still run; and once faults stop (the link up,
/// the clock moving, `recover` run where a journal is left), exactly one copy runs.
@Suite struct OwnershipModelTests {
    /// The target's side of the container.
    enum Target: Hashable {
        case nothing, staged
        /// Restored and frozen, waiting for the commit; `lease` as `MigrationLease` keeps it.
        case arrived(MigrationLease, initAlive: Bool)
        /// Committed: the target's copy runs.
        case owned
    }

    struct World: Hashable {
        /// The next step of the source's run: presync, dump, send, restore, mark, commit, finish.
        var step = 0
        var ferryAlive = true
        var sourceRuns = true
        /// Complete images of the dumped container on the source.
        var images = false
        var journal = false
        var committed = false
        /// The journal records that the target may hold a restored copy.
        var restoreUndo = false
        var target = Target.nothing
        var linkUp = true
        var agentAlive = true
        /// BootClock seconds on the target; the lease runs out at `deadline`.
        var now = 0.0
        var faults = 0

        var targetRuns: Bool { target == .owned }
        /// A copy that may still come to run: a frozen arrival whose lease allows a commit.
        var targetMayRun: Bool {
            if case .arrived(let lease, true) = target { return lease.allowsCommit(at: now) }
            return false
        }
    }

    static let deadline = 10.0
    static let faultBudget = 4

    /// The monitor's one-second check: past the deadline a pending copy is fenced.
    static func monitor(_ world: inout World) {
        if case .arrived(var lease, let alive) = world.target {
            if lease.mustFence(at: world.now) { lease.state = .fenced }
            if !alive, lease.state == .pending { lease.state = .fenced }
            world.target = .arrived(lease, initAlive: alive)
        }
    }

    /// What the agent says it holds (AgentServer.held).
    static func held(_ world: World) -> AgentResponse.Held {
        switch world.target {
        case .nothing: .nothing
        case .staged: .staged
        case .owned: .owned
        case .arrived(let lease, let alive): lease.state == .pending && alive ? .pending : .fenced
        }
    }

    /// The target's commit (AgentServer.commit): nil when declined.
    static func commit(_ world: World) -> World? {
        switch world.target {
        case .owned: return world
        case .arrived(let lease, let alive) where lease.allowsCommit(at: world.now) && alive:
            var next = world
            next.target = .owned
            return next
        default: return nil
        }
    }

    /// The target's abort: removes a staging or an arrival, never a committed copy.
    static func abort(_ world: inout World) {
        if world.target != .owned { world.target = .nothing }
    }

    /// The source's undo (MigrationRun.rollBack): the target's copy goes first (aborted, or
    /// its lease waited out), then the source resumes from its images. An abort that cannot
    /// reach the target stays in the journal for `recover` (nothing of it can run there).
    static func rollBack(_ world: inout World, targetReachable: Bool) {
        var targetDone = true
        if targetReachable {
            abort(&world)
        } else if world.restoreUndo {
            world.now = max(world.now, deadline + MigrationRun.leaseMargin)
            monitor(&world)
        } else {
            targetDone = false
        }
        if !world.sourceRuns, world.images {
            world.sourceRuns = true
            world.images = false
        }
        world.journal = !targetDone
        world.committed = false
        world.restoreUndo = false
    }

    /// The steps that talk to the target: the pre-sync, the images, the restore, the commit.
    static let remoteSteps: Set<Int> = [0, 2, 3, 5]

    /// Where a live run of ferry goes from `world`: its next step, or its error path.
    static func ferrySteps(_ world: World) -> [World] {
        guard world.ferryAlive, world.step < 7 else { return [] }
        var next = world
        if remoteSteps.contains(world.step) && !(world.linkUp && world.agentAlive) {
            next.ferryAlive = false
            switch world.step {
            case 3:
                // The restore request may have reached the target before the link went.
                next.restoreUndo = true
                var delivered = next
                delivered.target = .arrived(MigrationLease(state: .pending, deadline: deadline), initAlive: true)
                return [next, delivered].map { world in
                    var world = world
                    rollBack(&world, targetReachable: world.linkUp)
                    return world
                }
            case 5:
                // After the mark: ferry stops and leaves the journal (the commit may have
                // reached the target, its answer lost).
                return [next] + [commit(next)].compactMap { $0 }
            default:
                rollBack(&next, targetReachable: world.linkUp)
                return [next]
            }
        }
        switch world.step {
        case 0: next.journal = true  // presync: only files cross
        case 1:
            next.sourceRuns = false  // dump: CRIU kills the tasks once the images are complete
            next.images = true
        case 2: next.target = .staged  // the images cross
        case 3:
            next.restoreUndo = true  // the undo is recorded before the restore is asked for
            next.target = .arrived(MigrationLease(state: .pending, deadline: deadline), initAlive: true)
        case 4: next.committed = true
        case 5:
            guard let committed = commit(world) else {
                // Declined: no copy can run there; roll back automatically.
                rollBack(&next, targetReachable: true)
                next.ferryAlive = false
                return [next]
            }
            next = committed
        case 6:
            // finish-source: the images and the journal go only after the commit took.
            next.images = false
            next.journal = false
            next.ferryAlive = false
        default: break
        }
        next.step += 1
        return [next]
    }

    /// `ferry recover` after ferry died: ask the target, then finish or roll back.
    static func recover(_ world: World) -> World? {
        guard !world.ferryAlive, world.journal else { return nil }
        guard world.linkUp else { return nil }  // it cannot ask: it fails and changes nothing
        var next = world
        if world.committed, Recovery(committed: true, held: held(world)) == .finish {
            guard let committed = commit(world) else { return nil }  // declined: try again later
            next = committed
            next.images = false
            next.journal = false
            return next
        }
        rollBack(&next, targetReachable: true)
        return next
    }

    static func faults(_ world: World) -> [World] {
        guard world.faults < faultBudget else { return [] }
        var results: [World] = []
        var next = world
        next.faults += 1
        if world.ferryAlive {
            var killed = next
            killed.ferryAlive = false
            // Its agent sees EOF and removes a staging (an arrival is left to its lease).
            if killed.target == .staged { killed.target = .nothing }
            results.append(killed)
        }
        if world.agentAlive {
            var killed = next
            killed.agentAlive = false
            results.append(killed)
        }
        if world.linkUp {
            var cut = next
            cut.linkUp = false
            results.append(cut)
        }
        if case .arrived(let lease, true) = world.target {
            var died = next
            died.target = .arrived(lease, initAlive: false)
            results.append(died)
        }
        return results
    }

    /// Time and repair: the clock moves on, the link comes back, a new agent answers.
    static func environment(_ world: World) -> [World] {
        var results: [World] = []
        for step in [1.0, deadline - MigrationLease.commitMargin, deadline + 1] where world.now < step {
            var later = world
            later.now = step
            monitor(&later)
            results.append(later)
        }
        if !world.linkUp || !world.agentAlive {
            var repaired = world
            repaired.linkUp = true
            repaired.agentAlive = true
            results.append(repaired)
        }
        return results
    }

    static func successors(_ world: World) -> [World] {
        ferrySteps(world) + faults(world) + environment(world) + [recover(world)].compactMap { $0 }
    }

    /// Faults over: the link is up, ferry finished, the clock passes every lease, and
    /// `recover` runs (again) while a journal is left.
    static func settle(_ world: World) -> World {
        var world = world
        world.linkUp = true
        world.agentAlive = true
        while world.ferryAlive, world.step < 7, let next = ferrySteps(world).first { world = next }
        for _ in 0..<3 {
            if let recovered = recover(world) { world = recovered }
            world.now = max(world.now, deadline + MigrationRun.leaseMargin)
            monitor(&world)
        }
        return world
    }

    @Test func noSequenceOfCrashesAndCutsRunsTwoCopiesOrNone() {
        var seen: Set<World> = [World()]
        var queue = [World()]
        while let world = queue.popLast() {
            #expect(!(world.sourceRuns && world.targetRuns), "two running copies: \(world)")
            #expect(!(world.sourceRuns && world.targetMayRun), "a running source beside a copy that may still be committed: \(world)")
            #expect(world.sourceRuns || world.targetRuns || world.targetMayRun || world.images, "no copy and no images: \(world)")
            let settled = Self.settle(world)
            #expect(settled.sourceRuns != settled.targetRuns, "not exactly one copy once faults stop: \(world) → \(settled)")
            #expect(!settled.journal, "a journal stayed after recover: \(settled)")
            for next in Self.successors(world) where seen.insert(next).inserted {
                queue.append(next)
            }
        }
        // The exploration is not trivially small: every step, fault and timing is reached.
        #expect(seen.count > 1000, "only \(seen.count) states")
        #expect(seen.contains { $0.target == .owned && !$0.journal }, "no migration ever completed")
        #expect(seen.contains { $0.sourceRuns && $0.step >= 4 && !$0.journal }, "no late rollback")
    }

    /// The recovery table itself.
    @Test func recoverFinishesOnlyACommittedMigrationWhoseCopyCanRun() {
        #expect(Recovery(committed: true, held: .pending) == .finish)
        #expect(Recovery(committed: true, held: .owned) == .finish)
        for held in [AgentResponse.Held.nothing, .staged, .fenced] {
            #expect(Recovery(committed: true, held: held) == .rollBack)
        }
        for held in [AgentResponse.Held.nothing, .staged, .pending, .fenced] {
            #expect(Recovery(committed: false, held: held) == .rollBack)
        }
    }
}
