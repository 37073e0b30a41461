import FerryErrors
import FerrySystem
import Foundation

/// Copies a directory tree to the target over the same ssh as the agent, with rsync.
enum Rsync {
    /// Syncs `source/` into `destination/` on the target; returns the bytes rsync sent.
    /// `progress`, when set, receives rsync's running totals (bytes, %, rate, ETA).
    static func push(
        _ source: String, to destination: String, target: SSHTarget, progress: (@Sendable (String) -> Void)? = nil
    ) throws(FerryError) -> UInt64 {
        var argv = [
            "rsync", "--archive", "--hard-links", "--acls", "--xattrs", "--numeric-ids", "--delete", "--sparse",
            "--stats", "-e", target.rsyncShell,
        ]
        if progress != nil { argv.append("--info=progress2") }
        argv += ["\(source)/", "\(target.destination):\(destination)/"]
        let output = try Spawn.run(argv, onOutput: progress.map { report in
            { chunk in
                // Progress lines end in \r; the closing --stats block is not progress.
                for line in chunk.split(separator: "\r") where line.contains("%") && !line.contains("Number of") {
                    report(line.trimmingCharacters(in: .whitespacesAndNewlines))
                }
            }
        })
        guard output.status == 0 else {
            throw FerryError(
                .commandFailed, "cannot copy \(source) to \(target.destination):\(destination): rsync exited with status \(output.status)",
                cause: .output(command: "rsync", status: output.status, text: output.stderr))
        }
        return bytesSent(in: output.stdout)
    }

    /// "Total bytes sent: 1,234,567" from rsync --stats.
    static func bytesSent(in stats: String) -> UInt64 {
        guard let line = stats.split(separator: "\n").first(where: { $0.hasPrefix("Total bytes sent:") }) else { return 0 }
        return UInt64(line.dropFirst("Total bytes sent:".count).filter(\.isNumber)) ?? 0
    }
}
