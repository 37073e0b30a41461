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
        try run(["--delete"], source, to: destination, target: target, exact: exact, logger: logger, progress: progress)
    }

    /// Starts an exact sync of only the paths it will be given (relative to `source`), so
    /// that ssh and rsync are up before the freeze: `PendingPush.send` hands it the list.
    static func startChanged(
        _ source: String, to destination: String, target: SSHTarget, progress: (@Sendable (TransferProgress) -> Void)? = nil
    ) throws(FerryError) -> PendingPush {
        // Every path named changed, so none is skipped for a size and time that match: a
        // rewrite within a second on a filesystem with whole-second times would be.
        let options = ["--relative", "--dirs", "--ignore-times", "--from0", "--files-from=-", "--delete-missing-args", "--force"]
        let helper = try Spawn.AwaitingInput(
            Spawn.diesWithParent(command(options, source, to: destination, target: target, progress: progress != nil)), takesInput: true,
            onInterrupt: .endsOnInterrupt)
        return PendingPush(helper: helper, source: source, destination: destination, target: target, progress: progress)
    }

    /// An rsync waiting for the paths to send: each is sent (its contents by rsync's delta,
    /// its parents' attributes with it) when it exists, and deleted on the target (a
    /// directory with what it holds) when it does not. Only what is named is looked at: the
    /// cost is what changed, not what exists.
    struct PendingPush {
        let helper: Spawn.AwaitingInput
        let source: String
        let destination: String
        let target: SSHTarget
        let progress: (@Sendable (TransferProgress) -> Void)?

        /// Sends `paths` (NUL-separated on rsync's stdin) and waits; the bytes rsync sent.
        func send(_ paths: [[UInt8]], logger: Logger?) throws(FerryError) -> UInt64 {
            let output = try reportingProgress(progress) { (onOutput) throws(FerryError) in
                try helper.finish(input: paths.flatMap { $0 + [0] }, onOutput: onOutput)
            }
            return try outcome(output, source, to: destination, target: target, exact: true, logger: logger)
        }
    }

    /// rsync with the attributes every copy keeps (hard links, ACLs, xattrs, numeric ids,
    /// holes) and `options`. Times are compared to the nanosecond (`--modify-window=-1`):
    /// with rsync's default whole seconds, a file the container rewrote at the same size
    /// within the second the pre-sync copied it looked unchanged, and the frozen sync left
    /// the target with the older contents.
    private static func run(
        _ options: [String], _ source: String, to destination: String, target: SSHTarget, exact: Bool, logger: Logger?,
        progress: (@Sendable (TransferProgress) -> Void)?
    ) throws(FerryError) -> UInt64 {
        let argv = command(options, source, to: destination, target: target, progress: progress != nil)
        let output = try reportingProgress(progress) { (onOutput) throws(FerryError) in
            try Spawn.run(Spawn.diesWithParent(argv), onInterrupt: .endsOnInterrupt, onOutput: onOutput)
        }
        return try outcome(output, source, to: destination, target: target, exact: exact, logger: logger)
    }

    private static func command(_ options: [String], _ source: String, to destination: String, target: SSHTarget, progress: Bool) -> [String] {
        ["rsync", "--archive", "--hard-links", "--acls", "--xattrs", "--numeric-ids", "--sparse", "--modify-window=-1", "--stats", "-e", target.rsyncShell]
            + options
            + (progress ? ["--info=progress2"] : []) + ["\(source)/", "\(target.destination):\(destination)/"]
    }

    /// Runs `body` with an output reader that turns rsync's progress lines into reports,
    /// and reports the last totals at the end.
    private static func reportingProgress(
        _ progress: (@Sendable (TransferProgress) -> Void)?, _ body: (((String) -> Void)?) throws(FerryError) -> Spawn.Output
    ) throws(FerryError) -> Spawn.Output {
        var reader = RsyncProgress()
        let output = try body(progress.map { report in { chunk in reader.feed(chunk, now: Monotonic.now).map(report) } })
        if let progress, let last = reader.finish() { progress(last) }
        return output
    }

    /// The bytes sent, or the error of a copy that did not do its job.
    private static func outcome(
        _ output: Spawn.Output, _ source: String, to destination: String, target: SSHTarget, exact: Bool, logger: Logger?
    ) throws(FerryError) -> UInt64 {
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
