import ArgumentParser
import FerryCheckpoint
import FerryContainers
import FerryErrors

/// `ferry mounts NAME`: the container's mount trees with a verdict per mount — the
/// pre-flight check a checkpoint runs, shown before anything is frozen.
struct MountsCommand: JSONCommand {
    static let configuration = CommandConfiguration(
        commandName: "mounts", abstract: "Show a running container's mounts and whether each can be migrated.",
        discussion: """
            Examples:
              ferry mounts web
              ferry mounts web --json
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Container name.", completion: .containerName) var name: String
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let runtime = try global.manager().runtime(try containerName(name))
        let state = try runtime.loadState().requireRunning(runtime.config.name, "'ferry start' it to see its mounts")
        let plan = try CheckpointPlan(runtime: runtime, state: state)
        let capture = plan.capture
        let report = plan.report
        if json { return try JSONOutput.document("mounts", plan.printable) }
        var namespace = 0
        for entry in report.entries {
            if entry.namespace != namespace {
                namespace = entry.namespace
                let pids = capture.namespaces[namespace - 1].containerPids.map(String.init).joined(separator: ",")
                printLine("mount namespace \(namespace) (pids \(pids))")
            }
            printLine("  \(entry.mountPoint.padding(28))\(entry.fsType.padding(10))\(entry.propagation.padding(18))\(entry.verdict)")
        }
        for blocker in plan.processBlockers {
            printLine("process \(blocker.pid) (\(blocker.command)): blocked (\(blocker.reason))")
        }
        let blocked = report.blocked.map(\.mountPoint) + plan.processBlockers.map { "process \($0.pid)" }
        printLine(blocked.isEmpty ? "verdict: migratable" : "verdict: blocked by \(blocked.joined(separator: ", "))")
        if !blocked.isEmpty { throw ExitCode(1) }
    }
}
