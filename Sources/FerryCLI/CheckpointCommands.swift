import ArgumentParser
import FerryCRIU
import FerryCheckpoint
import FerryContainers
import FerryErrors
import FerrySystem

/// `ferry checkpoint NAME [--to DIR] [--leave-running | --export FILE.tar[.zst]] [--json]`
struct CheckpointCommand: JSONCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint", abstract: "Dump a running container with CRIU, mount tree included.",
        discussion: """
            Examples:
              ferry checkpoint web
              ferry checkpoint web --to /srv/images/web --leave-running
              ferry checkpoint web --export /srv/export/web.tar.zst
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Container name.", completion: .containerName) var name: String
    @Option(help: "Image directory (default: the container's checkpoint/ directory); new, empty, or holding a checkpoint of it.", completion: .directory) var to: String?
    @Flag(help: "Keep the container running after the dump.") var leaveRunning = false
    @Flag(help: "Replace a checkpoint there that was never restored.") var force = false
    @Option(
        help: "Also write the checkpoint, config and private area to this FILE.tar or FILE.tar.zst, for 'ferry restore --import' on another host.",
        completion: .file())
    var export: String?
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        if let export {
            guard !leaveRunning else {
                throw FerryError(
                    .invalidArgument,
                    "--export with --leave-running would archive files that went on changing after the dump; export a stopped checkpoint (without --leave-running)")
            }
            let result = try Checkpointer(manager: global.manager(), engine: global.engine)
                .export(try containerName(name), to: export, imagesDirectory: to, force: force)
            if json { return try JSONOutput.document("export", ExportJSON(result: result)) }
            printLine("checkpointed \(name) to \(result.checkpoint.directory) and exported it to \(result.file) (\(ByteSize.readable(Int(clamping: result.bytes))))")
            printLine("\(name) stays stopped here with its checkpoint; 'ferry destroy \(name)' once the import has worked")
            return
        }
        let result = try Checkpointer(manager: global.manager(), engine: global.engine)
            .checkpoint(try containerName(name), to: to, leaveRunning: leaveRunning, force: force)
        if json { return try JSONOutput.document("checkpoint", CheckpointJSON(result: result)) }
        printLine("checkpointed \(name) to \(result.directory): \(result.mounts) mounts in \(result.namespaces) namespace(s)")
        printLine(StatsText.dump(result.stats) + String(format: ", total %.3f s", result.totalSeconds))
    }
}

/// `ferry restore NAME [--from DIR] [--bind-source PATH=HOSTPATH]… [--overlay-template DIR] [--json]`
/// `ferry restore --import FILE [--name NEW] [--bind-source PATH=HOSTPATH]… [--overlay-template DIR] [--json]`
struct RestoreCommand: JSONCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore", abstract: "Restore a checkpointed container (or import an exported one) and verify its mount tree.",
        discussion: """
            Examples:
              ferry restore web
              ferry restore web --from /srv/images/web --bind-source /data=/mnt/data
              ferry restore --import web.tar.zst --name web-2
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Container name (not with --import).", completion: .containerName) var name: String?
    @Option(name: .customLong("import"), help: "Create the container from this 'checkpoint --export' file, then restore it.", completion: .file())
    var importFile: String?
    @Option(name: .customLong("name"), help: "With --import: the name to give it here (default: its name in the file).")
    var newName: String?
    @Option(help: "Image directory (default: the container's checkpoint/ directory).", completion: .directory) var from: String?
    @Option(name: .customLong("bind-source"), help: "CONTAINERPATH=HOSTPATH: a bind's source moved on this host.")
    var bindSources: [String] = []
    @Option(help: "The overlay template's path on this host, if it moved.", completion: .directory) var overlayTemplate: String?
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
        if let importFile {
            return try importAndRestore(importFile, remap: remap)
        }
        guard let name else {
            throw FerryError(.invalidArgument, "restore needs a container NAME, or --import FILE")
        }
        if newName != nil { throw FerryError(.invalidArgument, "--name is for --import; without it the container keeps its name") }
        // Before the restore's steps (and their log lines) start, so the admin reads one line.
        if let from, !(fileStatus(from).map(isDirectory) ?? false) {
            throw FerryError(.notFound, "--from \(from) is not a directory; give the image directory 'ferry checkpoint --to' wrote, or leave --from out")
        }
        let result = try Restorer(manager: global.manager(), engine: global.engine)
            .restore(try containerName(name), from: from, remap: remap, force: force)
        if json { return try JSONOutput.document("restore", RestoreJSON(result: result)) }
        printLine("restored \(name) (init pid \(result.pid)): \(result.mounts) mounts in \(result.namespaces) namespace(s), mount tree verified")
        printLine(StatsText.restore(result.stats) + String(format: ", total %.3f s", result.totalSeconds))
    }

    private func importAndRestore(_ file: String, remap: Restorer.Remap) throws {
        if let name {
            throw FerryError(.invalidArgument, "with --import the name comes from the file; give '\(name)' as --name \(name)")
        }
        guard from == nil, !force else {
            throw FerryError(.invalidArgument, "--from and --force do not apply to --import (the file holds the checkpoint, never restored)")
        }
        let result = try Restorer(manager: global.manager(), engine: global.engine)
            .importAndRestore(file, as: try newName.map { try containerName($0) }, remap: remap)
        if json { return try JSONOutput.document("import", ImportJSON(result: result)) }
        let restored = result.restore
        printLine("imported \(result.name) from \(file) and restored it (init pid \(restored.pid)): \(restored.mounts) mounts in \(restored.namespaces) namespace(s), mount tree verified")
        printLine(StatsText.restore(restored.stats) + String(format: ", total %.3f s", restored.totalSeconds))
    }
}

enum StatsText {
    static func milliseconds(_ microseconds: UInt64?) -> String {
        microseconds.map { String(format: "%.1f ms", Double($0) / 1000) } ?? "-"
    }

    static func size(_ bytes: Int?) -> String {
        bytes.map(ByteSize.readable) ?? "-"
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
