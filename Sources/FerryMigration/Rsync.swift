import FerryErrors
import FerrySystem
import Foundation
import Logging

/// Copies a directory tree to the target over the same ssh as the agent, with rsync.
enum Rsync {
    /// Syncs `source/` into `destination/` on the target; returns the bytes rsync sent.
    /// `exact`: the copy must be complete (the frozen sync, the images); otherwise files
    /// that vanished while rsync ran (a live pre-sync of a busy container) are fine — the
    /// frozen sync that follows copies the final state.
    /// `progress`, when set, receives rsync's running totals (bytes, %, rate, ETA).
    static func push(
        _ source: String, to destination: String, target: SSHTarget, exact: Bool, logger: Logger? = nil,
        progress: (@Sendable (String) -> Void)? = nil
    ) throws(FerryError) -> UInt64 {
        try run(["--delete"], source, to: destination, target: target, exact: exact, logger: logger, progress: progress)
    }

    /// Syncs only the paths named in `list` (relative to `source`, NUL-separated), always
    /// exactly: each is sent (its contents by rsync's delta, its parents' attributes with
    /// it) when it exists, and deleted on the target (a directory with what it holds) when
    /// it does not. Only what is named is looked at: the cost is what changed, not what
    /// exists.
    static func pushChanged(
        _ source: String, list: String, to destination: String, target: SSHTarget, logger: Logger? = nil,
        progress: (@Sendable (String) -> Void)? = nil
    ) throws(FerryError) -> UInt64 {
        // Every path named changed, so none is skipped for a size and time that match: a
        // rewrite within a second on a filesystem with whole-second times would be.
        let options = ["--relative", "--dirs", "--ignore-times", "--from0", "--files-from=\(list)", "--delete-missing-args", "--force"]
        return try run(options, source, to: destination, target: target, exact: true, logger: logger, progress: progress)
    }

    /// rsync with the attributes every copy keeps (hard links, ACLs, xattrs, numeric ids,
    /// holes) and `options`.
    private static func run(
        _ options: [String], _ source: String, to destination: String, target: SSHTarget, exact: Bool, logger: Logger?,
        progress: (@Sendable (String) -> Void)?
    ) throws(FerryError) -> UInt64 {
        var argv = ["rsync", "--archive", "--hard-links", "--acls", "--xattrs", "--numeric-ids", "--sparse", "--stats", "-e", target.rsyncShell] + options
        if progress != nil { argv.append("--info=progress2") }
        argv += ["\(source)/", "\(target.destination):\(destination)/"]
        let output = try Spawn.run(Spawn.diesWithParent(argv), onInterrupt: .endsOnInterrupt, onOutput: progress.map { report in
            { chunk in
                // Progress lines end in \r; the closing --stats block is not progress.
                for line in chunk.split(separator: "\r") where line.contains("%") && !line.contains("Number of") {
                    report(line.trimmingCharacters(in: .whitespacesAndNewlines))
                }
            }
        })
        guard acceptable(status: output.status, exact: exact) else {
            throw FerryError(
                .commandFailed, "cannot copy \(source) to \(target.destination):\(destination): rsync exited with status \(output.status)",
                cause: .output(command: "rsync", status: output.status, text: output.stderr))
        }
        if output.status == vanishedFiles {
            logger?.info("files vanished during the live copy; the frozen sync copies the final state", metadata: ["source": "\(source)"])
        }
        return bytesSent(in: output.stdout)
    }

    /// rsync's exit status 24 is "some files vanished before they could be transferred".
    static let vanishedFiles: Int32 = 24

    /// Whether a copy that ended with `status` did its job.
    static func acceptable(status: Int32, exact: Bool) -> Bool {
        status == 0 || (!exact && status == vanishedFiles)
    }

    /// "Total bytes sent: 1,234,567" from rsync --stats.
    static func bytesSent(in stats: String) -> UInt64 {
        guard let line = stats.split(separator: "\n").first(where: { $0.hasPrefix("Total bytes sent:") }) else { return 0 }
        return UInt64(line.dropFirst("Total bytes sent:".count).filter(\.isNumber)) ?? 0
    }
}
