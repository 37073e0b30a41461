import FerryErrors
import FerrySystem

/// Copies a directory tree to the target over the same ssh as the agent, with rsync.
enum Rsync {
    /// Syncs `source/` into `destination/` on the target; returns the bytes rsync sent.
    static func push(_ source: String, to destination: String, target: SSHTarget) throws(FerryError) -> UInt64 {
        let output = try Spawn.check(
            [
                "rsync", "--archive", "--hard-links", "--acls", "--xattrs", "--numeric-ids", "--delete", "--sparse",
                "--stats", "-e", target.rsyncShell, "\(source)/", "\(target.destination):\(destination)/",
            ],
            "cannot copy \(source) to \(target.destination):\(destination)")
        return bytesSent(in: output.stdout)
    }

    /// "Total bytes sent: 1,234,567" from rsync --stats.
    static func bytesSent(in stats: String) -> UInt64 {
        guard let line = stats.split(separator: "\n").first(where: { $0.hasPrefix("Total bytes sent:") }) else { return 0 }
        return UInt64(line.dropFirst("Total bytes sent:".count).filter(\.isNumber)) ?? 0
    }
}
