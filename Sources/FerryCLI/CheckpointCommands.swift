import ArgumentParser
import FerryCRIU
import FerryCheckpoint
import FerryContainers
import FerryErrors
import FerrySystem

/// `ferry checkpoint NAME [--to DIR] [--leave-running] [--json]`
struct CheckpointCommand: FerrySubcommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint", abstract: "Dump a running container with CRIU, mount tree included.",
        discussion: """
            Examples:
              ferry checkpoint web
              ferry checkpoint web --to /srv/images/web --leave-running
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Container name.", completion: .containerName) var name: String
    @Option(help: "Image directory (default: the container's checkpoint/ directory); new, empty, or holding a checkpoint of it.", completion: .directory) var to: String?
    @Flag(help: "Keep the container running after the dump.") var leaveRunning = false
    @Flag(help: "Replace a checkpoint there that was never restored.") var force = false
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let result = try Checkpointer(manager: global.manager(), engine: global.engine)
            .checkpoint(try containerName(name), to: to, leaveRunning: leaveRunning, force: force)
        if json { return try printJSON(result) }
        printLine("checkpointed \(name) to \(result.directory): \(result.mounts) mounts in \(result.namespaces) namespace(s)")
        printLine(StatsText.dump(result.stats) + String(format: ", total %.3f s", result.totalSeconds))
    }
}

/// `ferry restore NAME [--from DIR] [--bind-source PATH=HOSTPATH]… [--overlay-template DIR] [--json]`
struct RestoreCommand: FerrySubcommand {
    static let configuration = CommandConfiguration(
        commandName: "restore", abstract: "Restore a checkpointed container and verify its mount tree.",
        discussion: """
            Examples:
              ferry restore web
              ferry restore web --from /srv/images/web --bind-source /data=/mnt/data
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Container name.", completion: .containerName) var name: String
    @Option(help: "Image directory (default: the container's checkpoint/ directory).", completion: .directory) var from: String?
    @Option(name: .customLong("bind-source"), help: "CONTAINERPATH=HOSTPATH: a bind's source moved on this host.")
    var bindSources: [String] = []
    @Option(help: "The overlay template's path on this host, if it moved.", completion: .directory) var overlayTemplate: String?
    @Flag(help: "Restore images that already served a restore (rolls memory back to the dump).") var force = false
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        // Before the restore's steps (and their log lines) start, so the admin reads one line.
        if let from, !(fileStatus(from).map(isDirectory) ?? false) {
            throw FerryError(.notFound, "--from \(from) is not a directory; give the image directory 'ferry checkpoint --to' wrote, or leave --from out")
        }
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
        if json { return try printJSON(result) }
        printLine("restored \(name) (init pid \(result.pid)): \(result.mounts) mounts in \(result.namespaces) namespace(s), mount tree verified")
        printLine(StatsText.restore(result.stats) + String(format: ", total %.3f s", result.totalSeconds))
    }
}

enum StatsText {
    static func milliseconds(_ microseconds: UInt64?) -> String {
        microseconds.map { String(format: "%.1f ms", Double($0) / 1000) } ?? "-"
    }

    static func dump(_ stats: CRIUStats) -> String {
        "freezing \(milliseconds(stats.freezingTime)), frozen \(milliseconds(stats.frozenTime)), "
            + "memory dump \(milliseconds(stats.memdumpTime)), write \(milliseconds(stats.memwriteTime)), "
            + "pages \(stats.pagesWritten.map(String.init) ?? "-")"
    }

    static func restore(_ stats: CRIUStats) -> String {
        "restore \(milliseconds(stats.restoreTime)), forking \(milliseconds(stats.forkingTime)), "
            + "pages restored \(stats.pagesRestored.map(String.init) ?? "-")"
    }
}
