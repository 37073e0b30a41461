import FerryErrors
import Glibc

/// The freezer cgroup each container lives in, so all its processes can be frozen at once
/// (CRIU's `freeze_cgroup`) and found again (every pid in cgroup.procs is the container's).
///
/// Works with the v1 freezer hierarchy (this machine's hybrid layout) or a pure cgroup v2
/// mount (cgroup.freeze); `hierarchy()` tells which one is there.
public struct CgroupFreezer: Sendable {
    public enum Version: Sendable { case v1, v2 }

    public let path: String
    public let version: Version

    public init(path: String, version: Version) {
        self.path = path
        self.version = version
    }

    /// The mount point of a freezer-capable hierarchy, or nil.
    public static func hierarchy() -> (path: String, version: Version)? {
        if access("/sys/fs/cgroup/freezer/freezer.state", F_OK) == 0 || access("/sys/fs/cgroup/freezer/tasks", F_OK) == 0 {
            return ("/sys/fs/cgroup/freezer", .v1)
        }
        if access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0 {
            return ("/sys/fs/cgroup", .v2)
        }
        if access("/sys/fs/cgroup/unified/cgroup.controllers", F_OK) == 0 {
            return ("/sys/fs/cgroup/unified", .v2)
        }
        return nil
    }

    /// The cgroup for container `name` under `group` (one group per Ferry state root, so
    /// simulated hosts on one machine do not collide).
    public static func forContainer(_ name: String, group: String) throws(FerryError) -> CgroupFreezer {
        guard let (root, version) = hierarchy() else {
            throw FerryError(.kernelUnsupported, "no freezer cgroup hierarchy is mounted under /sys/fs/cgroup")
        }
        return CgroupFreezer(path: "\(root)/ferry/\(group)/\(name)", version: version)
    }

    public func create() throws(FerryError) {
        try makeDirectories(path)
    }

    public func add(_ pid: pid_t) throws(FerryError) {
        try writeText("\(path)/cgroup.procs", "\(pid)\n")
    }

    public var pids: [pid_t] {
        ((try? readText("\(path)/cgroup.procs")) ?? "").split(separator: "\n").compactMap { pid_t($0) }
    }

    public var exists: Bool { access(path, F_OK) == 0 }

    /// Freezes every task of the cgroup and waits (at most 10 s) until the kernel says
    /// they all are: a migrated copy waiting for its commit must not run.
    /// `timeout`: how long the tasks may take to freeze before it is an error.
    public func freeze(timeout: Double = 10) throws(FerryError) {
        switch version {
        case .v1: try writeText("\(path)/freezer.state", "FROZEN\n")
        case .v2: try writeText("\(path)/cgroup.freeze", "1\n")
        }
        let deadline = Monotonic.now + timeout
        while !isFrozen {
            guard Monotonic.now < deadline else {
                throw FerryError(.timedOut, "the tasks of \(path) did not freeze within \(Int(timeout.rounded(.up))) s")
            }
            usleep(5_000)
        }
    }

    public var isFrozen: Bool {
        switch version {
        case .v1: return ((try? readText("\(path)/freezer.state")) ?? "").trimmingNewline == "FROZEN"
        case .v2: return ((try? readText("\(path)/cgroup.events")) ?? "").contains("frozen 1")
        }
    }

    /// Whether a freeze was asked for, finished (FROZEN) or not (FREEZING: a task that
    /// cannot freeze yet, such as one waiting in a share's placeholder).
    public var isFreezeRequested: Bool {
        switch version {
        case .v1: return ((try? readText("\(path)/freezer.state")) ?? "THAWED").trimmingNewline != "THAWED"
        case .v2: return ((try? readText("\(path)/cgroup.freeze")) ?? "0").trimmingNewline == "1"
        }
    }

    /// Lets frozen tasks run again: what a CRIU that died mid-dump leaves frozen.
    public func thaw() throws(FerryError) {
        switch version {
        case .v1: try writeText("\(path)/freezer.state", "THAWED\n")
        case .v2: try writeText("\(path)/cgroup.freeze", "0\n")
        }
    }

    /// Kills every task in the cgroup (thawing it, so the kills land) and waits, at most
    /// `seconds`, until none is left; returns whether none is. For what a failed restore or
    /// a fenced copy leaves: tasks that must never run on.
    @discardableResult
    public func killAll(waiting seconds: Double = 10) -> Bool {
        let deadline = Monotonic.now + seconds
        while true {
            let left = pids
            if left.isEmpty { return true }
            for pid in left { kill(pid, SIGKILL) }
            try? thaw()
            guard Monotonic.now < deadline else { return false }
            usleep(10_000)
        }
    }

    /// Removes the (empty) cgroup; a cgroup that still has processes stays and is reported.
    public func remove() throws(FerryError) {
        guard exists else { return }
        // The kernel drops just-reaped tasks from a cgroup a moment later: retry briefly.
        let deadline = Monotonic.now + 2
        while rmdir(path) != 0 {
            let error = errno
            guard error == EBUSY, Monotonic.now < deadline else {
                throw FerryError.system("rmdir", .init(rawValue: error), path: path)
            }
            usleep(20_000)
        }
    }
}
