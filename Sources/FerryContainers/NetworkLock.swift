import FerryErrors
import FerrySystem
import Glibc

/// Ferry's own lock on the network of a migrated copy that waits for its source's commit.
///
/// CRIU restores the TCP connections and lifts its lock when the restore ends, but until
/// the commit the copy is not the container yet: if the migration is abandoned, the copy is
/// killed, and a live socket that dies sends a reset to the peer — which would break the
/// very connection the source is about to resume. So when CRIU is about to unlock
/// (its `network-unlock` notification), Ferry puts its own drop rules in first; the commit
/// lifts them, an abort or a fence kills the copy behind them and nothing leaves.
public enum NetworkLock {
    static let comment = "ferry-migration-lock"
    static let tools = ["iptables", "ip6tables"]
    static let chains = ["INPUT", "OUTPUT"]

    static func rule(_ action: String, chain: String) -> [String] {
        ["-w", action, chain] + (action == "-I" ? ["1"] : []) + ["-m", "comment", "--comment", comment, "-j", "DROP"]
    }

    /// Drops every packet in and out of the namespace of `initPid` (both families).
    public static func engage(initPid: pid_t) throws(FerryError) {
        for tool in tools {
            for chain in chains {
                try Spawn.check(
                    ["nsenter", "--net=/proc/\(initPid)/ns/net", "--", tool] + rule("-I", chain: chain),
                    "lock the network of the migrated copy (\(tool) \(chain))")
            }
        }
    }

    /// Lifts what `engage` put in; a namespace without them is left as it is.
    public static func release(initPid: pid_t) throws(FerryError) {
        for tool in tools {
            for chain in chains {
                let inside = ["nsenter", "--net=/proc/\(initPid)/ns/net", "--", tool]
                while try Spawn.run(inside + ["-w", "-C", chain, "-m", "comment", "--comment", comment, "-j", "DROP"]).status == 0 {
                    try Spawn.check(inside + rule("-D", chain: chain), "unlock the network of the container (\(tool) \(chain))")
                }
            }
        }
    }

    /// Lifts the lock and kicks the TCP connections of `tasks`: what the closed network
    /// dropped is resent now, not when the peers' backed-off timers say (seconds, after a
    /// freeze of one). For a migrated copy at its commit and a frozen source that resumes.
    public static func open(initPid: pid_t, tasks: [pid_t]) throws(FerryError) {
        try release(initPid: initPid)
        for pid in tasks { _ = (try? ProcessHandle(pid: pid))?.kickTCPConnections() }
    }
}
