import FerryErrors
import FerrySystem
import Foundation

/// What a running container leaves in `run.json`: its init and monitor, each with its
/// start time so a recycled pid is never taken for them.
public struct RuntimeState: Sendable, Codable, Equatable {
    public var initPid: Int32
    public var initStartTime: UInt64
    public var monitorPid: Int32
    public var monitorStartTime: UInt64
    public var rootfs: String
    public var cgroup: String
    public var startedAt: Date
    /// CRIU's names for the init's console pipes (see ConsolePipes); nil in run states
    /// written before the monitor owned the init's console.
    public var console: ConsoleKeys? = nil

    /// True when the recorded init still exists and is the same process.
    public var initAlive: Bool {
        ProcFS.startTime(of: initPid) == initStartTime
    }

    public var monitorAlive: Bool {
        ProcFS.startTime(of: monitorPid) == monitorStartTime
    }
}
