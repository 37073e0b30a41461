import ArgumentParser
import FerryContainers
import FerryErrors
import FerryMigration
import FerrySystem
import Foundation
import Synchronization

/// `ferry migrate NAME [USER@]HOST …`
struct MigrateCommand: JSONCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate", abstract: "Move a container to another host over ssh, live or offline.",
        discussion: """
            Examples:
              ferry migrate web h2
              ferry migrate web root@h2 --dry-run
              ferry migrate web h2 --offline --dst-storage insulated --dst-image 4G
              ferry migrate --list-steps
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Container name.", completion: .containerName) var name: String?
    @Argument(help: "Target host, as ssh knows it ([USER@]HOST).") var host: String?
    @Flag(help: "Live migration of a running container.") var online = false
    @Flag(help: "Migration of a stopped container.") var offline = false
    @Flag(help: "Keep the (stopped) container on the source afterwards.") var keepSource = false
    @Flag(help: "Keep the checkpoint images on both hosts.") var keepImages = false
    @Flag(help: "Run every check on both sides and change nothing.") var dryRun = false
    @Option(help: "ssh configuration file (host names, keys, known_hosts).", completion: .file()) var sshConfig: String?
    @Option(help: "The ferry executable on the target (default: this one's path).", completion: .file()) var remoteFerry: String?
    @Option(help: "Write the images to this block device, which the target sees too, instead of copying them.", completion: .file())
    var dumpDirDevice: String?
    @Option(help: "Storage on the target: shared or insulated (default: as on the source).", completion: .storageKind) var dstStorage: String?
    @Option(help: "Size of the target's image for --dst-storage insulated (e.g. 1G).") var dstImage: String?
    @Option(help: "Longest the container may stay frozen, in seconds (default 120); past it the source resumes.")
    var maxDowntime: Double?
    @Flag(help: "Post-copy: the container runs on the target before its memory has arrived; the pages follow (see the README for what a failure then costs).")
    var postcopy = false
    @Flag(help: "Print the steps of an --online (default) or --offline migration, in order, and exit.") var listSteps = false
    @Flag(help: "Print each event (phases, the frozen window, progress) as a line of JSON, the summary last.") var json = false

    func run() throws {
        if listSteps {
            let steps = offline ? MigrationStep.offline : postcopy ? MigrationStep.postcopy : MigrationStep.online
            if json { return try JSONOutput.document("steps", steps) }
            for step in steps { printLine(step.rawValue) }
            return
        }
        guard let name, let host else {
            throw FerryError(.invalidArgument, "write 'ferry migrate NAME HOST'")
        }
        if online && offline { throw FerryError(.invalidArgument, "give --online or --offline, not both") }
        if postcopy && offline { throw FerryError(.invalidArgument, "--postcopy moves a running container's memory; it does not go with --offline") }
        if postcopy, let dumpDirDevice {
            throw FerryError(.invalidArgument, "--postcopy serves the memory over the network; it does not go with --dump-dir-device \(dumpDirDevice)")
        }
        var options = Migrator.Options(
            target: SSHTarget(destination: host, configFile: sshConfig), remoteFerry: remoteFerry ?? GlobalOptions.executable)
        options.mode = online || postcopy ? .online : offline ? .offline : .automatic
        options.postcopy = postcopy
        options.keepSource = keepSource
        options.keepImages = keepImages
        options.dryRun = dryRun
        options.dumpDevice = dumpDirDevice
        options.events = json ? Self.jsonLine : MigrationConsole(terminal: isatty(2) != 0).receive
        if let dstStorage {
            guard let storage = Migrator.Options.TargetStorage(rawValue: dstStorage) else {
                throw FerryError(.invalidArgument, "unknown --dst-storage '\(dstStorage)'; use shared or insulated")
            }
            options.targetStorage = storage
        }
        if let dstImage {
            guard options.targetStorage == .insulated else {
                throw FerryError(
                    .invalidArgument, "--dst-image \(dstImage) sizes an insulated target only; add --dst-storage insulated, or drop --dst-image")
            }
            options.targetImageBytes = try ByteSize.bytes(dstImage, option: "--dst-image", atLeast: PrivateArea.smallestImage)
        }
        if let maxDowntime {
            guard maxDowntime > 0, maxDowntime.isFinite else {
                throw FerryError(.invalidArgument, "--max-downtime \(maxDowntime) is not a positive number of seconds; give e.g. --max-downtime 5")
            }
            options.maxDowntime = maxDowntime
        }
        // A Ctrl-C, SIGTERM or SIGHUP from here on rolls the migration back (or, past the
        // commit, lets it finish) instead of ending ferry half-way.
        try Interruption.arm()
        // The summary arrives as the last event; the sink prints it.
        _ = try Migrator(manager: global.manager(), engine: global.engine, logger: global.logger("ferry.migrate")).migrate(try containerName(name), options)
        if let signal = Interruption.signal {
            FileOutput.standardError.write("ferry: \(Interruption.name(of: signal)) came after the commit: the migration was finished, not undone\n")
        }
    }

    /// `--json`: each event a document of its own line (`{"schema": 1, "event": {…}}`),
    /// one writer at a time (transfers report from their own threads).
    @Sendable static func jsonLine(_ event: MigrationEvent) {
        jsonLines.withLock { _ in
            do {
                try JSONOutput.line("event", event)
            } catch {
                FileOutput.standardError.write("ferry: cannot encode the migration event \(event.type): \(error)\n")
            }
        }
    }

    private static let jsonLines = Mutex(())
}

enum MigrationText {
    static func summary(_ summary: MigrationSummary) -> String {
        let differences = summary.differences.map { "  differs: \($0)" }
        if summary.dryRun {
            return (["dry run: \(summary.container) can be migrated to \(summary.target) (\(summary.mode)); nothing was changed"] + differences)
                .joined(separator: "\n")
        }
        var lines = ["migrated \(summary.container) to \(summary.target) (\(summary.mode))"] + differences
        if let frozen = summary.frozenSeconds { lines.append(row("frozen (downtime)", String(format: "%.3f s", frozen))) }
        lines.append(row("total", String(format: "%.3f s", summary.totalSeconds)))
        lines.append(row("files sent", ByteSize.readable(summary.dataBytes)))
        lines.append(row("images sent", ByteSize.readable(summary.imageBytes)))
        let marked = summary.phases.contains(where: \.frozen)
        lines.append(marked ? "  phases (* the container was frozen):" : "  phases:")
        for phase in summary.phases {
            lines.append((phase.frozen ? "    * " : "      ") + phase.step.padding(18) + String(format: "%7.3f s", phase.seconds))
        }
        return lines.joined(separator: "\n")
    }

    /// A label and its value, the values in one column.
    private static func row(_ label: String, _ value: String) -> String {
        "  " + label.padding(20) + value
    }
}

/// `ferry agent`: the target's side of a migration, spoken over ssh's stdin/stdout.
struct AgentCommand: FerrySubcommand {
    static let configuration = CommandConfiguration(
        commandName: "agent", abstract: "Serve a migration from a source host (run by 'ferry migrate' over ssh).",
        shouldDisplay: false)
    @OptionGroup var global: GlobalOptions

    func run() throws {
        try AgentServer(manager: global.manager(), engine: global.engine).serve()
    }
}

/// `ferry recover NAME`: finish or undo a migration that was interrupted.
struct RecoverCommand: FerrySubcommand {
    static let configuration = CommandConfiguration(
        commandName: "recover", abstract: "Undo (or finish, if it was committed) an interrupted migration.",
        discussion: """
            Examples:
              ferry recover web
              ferry recover web --forget-target
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Container name.", completion: .containerName) var name: String
    @Flag(help: "The target is gone for good: undo without it, after its lease has surely ended; it is cleaned at the next contact.")
    var forgetTarget = false

    func run() throws {
        // A recovery half done is what it repairs: a signal waits for its end.
        try Interruption.arm()
        Interruption.setCancelling(false)
        printLine(
            try Migrator(manager: global.manager(), engine: global.engine, logger: global.logger("ferry.migrate")).recover(
                try containerName(name), forgetTarget: forgetTarget))
    }
}
