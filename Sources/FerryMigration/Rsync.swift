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
    /// `progress`, when set, receives rsync's running totals (bytes, total, rate, time left).
    static func push(
        _ source: String, to destination: String, target: SSHTarget, exact: Bool, logger: Logger? = nil,
        progress: (@Sendable (TransferProgress) -> Void)? = nil
    ) throws(FerryError) -> UInt64 {
        var argv = [
            "rsync", "--archive", "--hard-links", "--acls", "--xattrs", "--numeric-ids", "--delete", "--sparse",
            "--stats", "-e", target.rsyncShell,
        ]
        if progress != nil { argv.append("--info=progress2") }
        argv += ["\(source)/", "\(target.destination):\(destination)/"]
        var reader = RsyncProgress()
        let output = try Spawn.run(Spawn.diesWithParent(argv), onInterrupt: .endsOnInterrupt, onOutput: progress.map { report in
            { chunk in reader.feed(chunk, now: Monotonic.now).map(report) }
        })
        if let progress, let last = reader.finish() { progress(last) }
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
