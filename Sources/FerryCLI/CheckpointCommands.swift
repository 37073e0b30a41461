import ArgumentParser
import FerryCRIU
import FerryCheckpoint
import FerryContainers
import FerryErrors

/// `ferry checkpoint NAME [--to DIR] [--leave-running] [--json]`
struct CheckpointCommand: JSONCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint", abstract: "Dump a running container with CRIU, mount tree included.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Container name.") var name: String
    @Option(help: "Image directory (default: the container's checkpoint/ directory); new, empty, or holding a checkpoint of it.") var to: String?
    @Flag(help: "Keep the container running after the dump.") var leaveRunning = false
    @Flag(help: "Replace a checkpoint there that was never restored.") var force = false
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let result = try Checkpointer(manager: global.manager(), engine: global.engine)
            .checkpoint(try containerName(name), to: to, leaveRunning: leaveRunning, force: force)
        if json { return try JSONOutput.document("checkpoint", CheckpointJSON(result: result)) }
        printLine("checkpointed \(name) to \(result.directory): \(result.mounts) mounts in \(result.namespaces) namespace(s)")
        printLine(StatsText.dump(result.stats) + String(format: ", total %.3f s", result.totalSeconds))
    }
}

/// `ferry restore NAME [--from DIR] [--bind-source PATH=HOSTPATH]… [--overlay-template DIR] [--json]`
struct RestoreCommand: JSONCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore", abstract: "Restore a checkpointed container and verify its mount tree.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Container name.") var name: String
    @Option(help: "Image directory (default: the container's checkpoint/ directory).") var from: String?
    @Option(name: .customLong("bind-source"), help: "CONTAINERPATH=HOSTPATH: a bind's source moved on this host.")
    var bindSources: [String] = []
    @Option(help: "The overlay template's path on this host, if it moved.") var overlayTemplate: String?
    @Flag(help: "Restore images that already served a restore (rolls memory back to the dump).") var force = false
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        var remap = Restorer.Remap(overlayTemplate: overlayTemplate)
        for item in bindSources {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, parts[0].hasPrefix("/"), parts[1].hasPrefix("/") else {
                throw FerryError(.invalidArgument, "--bind-source '\(item)' is not CONTAINERPATH=HOSTPATH with absolute paths")
            }
            remap.bindSources[parts[0]] = parts[1]
        }
        let result = try Restorer(manager: global.manager(), engine: global.engine)
            .restore(try containerName(name), from: from, remap: remap, force: force)
        if json { return try JSONOutput.document("restore", RestoreJSON(result: result)) }
        printLine("restored \(name) (init pid \(result.pid)): \(result.mounts) mounts in \(result.namespaces) namespace(s), mount tree verified")
        printLine(StatsText.restore(result.stats) + String(format: ", total %.3f s", result.totalSeconds))
    }
}

enum StatsText {
    static func milliseconds(_ microseconds: UInt64?) -> String {
        microseconds.map { String(format: "%.1f ms", Double($0) / 1000) } ?? "-"
    }

    static func size(_ bytes: Int?) -> String {
        bytes.map(ByteSize.describe) ?? "-"
    }

    static func dump(_ stats: CRIUStats) -> String {
        "freezing \(milliseconds(stats.freezingTime)), frozen \(milliseconds(stats.frozenTime)), "
            + "memory dump \(milliseconds(stats.memdumpTime)), write \(milliseconds(stats.memwriteTime)), "
            + "memory written \(size(stats.bytesWritten))"
    }

    static func restore(_ stats: CRIUStats) -> String {
        "restore \(milliseconds(stats.restoreTime)), forking \(milliseconds(stats.forkingTime)), "
            + "memory restored \(size(stats.bytesRestored))"
    }
}
