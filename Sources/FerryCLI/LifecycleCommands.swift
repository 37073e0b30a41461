import ArgumentParser
import Glibc
import FerryCheckpoint
import FerryContainers
import FerryErrors

/// `ferry start NAME`
struct StartCommand: FerrySubcommand {
    static let configuration = CommandConfiguration(
        commandName: "start", abstract: "Start a container.",
        discussion: """
            Examples:
              ferry start web
              ferry start web --fresh
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Container name.", completion: .containerName) var name: String
    @Flag(help: "Boot anew although a checkpoint waits to be restored (the checkpoint is marked used).") var fresh = false

    func run() throws {
        let pid = try global.manager().start(try containerName(name), fresh: fresh)
        printLine("started \(name) (init pid \(pid))")
    }
}

/// `ferry stop NAME [--timeout S]`
struct StopCommand: FerrySubcommand {
    static let configuration = CommandConfiguration(
        commandName: "stop", abstract: "Stop a container: its init's shutdown signal, then SIGKILL.",
        discussion: """
            Examples:
              ferry stop web
              ferry stop web --timeout 0
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Container name.", completion: .containerName) var name: String
    @Option(help: "Seconds to wait for a clean shutdown before SIGKILL (0 kills at once).") var timeout: Double = 10

    func run() throws {
        guard timeout >= 0, timeout.isFinite else {
            throw FerryError(.invalidArgument, "--timeout \(timeout) is not a number of seconds from 0; give e.g. --timeout 10 (0 kills at once)")
        }
        switch try global.manager().stop(try containerName(name), timeout: timeout) {
        case .shutDown: printLine("stopped \(name) (shut down cleanly)")
        case .killed: printLine("stopped \(name) (killed\(timeout > 0 ? " after \(timeout) s without a clean shutdown" : ""))")
        case .alreadyExited: printLine("stopped \(name) (it had already exited)")
        case .notRunning: printLine("\(name) is not running; nothing to stop")
        }
    }
}

/// `ferry destroy NAME`
struct DestroyCommand: FerrySubcommand {
    static let configuration = CommandConfiguration(
        commandName: "destroy", abstract: "Remove a stopped container and its private area.",
        discussion: """
            Examples:
              ferry destroy web
              ferry destroy --force web
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Container name.", completion: .containerName) var name: String
    @Flag(name: [.short, .long], help: "Stop the container first if it runs (as podman rm -f, lxc delete --force).") var force = false

    func run() throws {
        let manager = try global.manager()
        let name = try containerName(name)
        if force, case .running = try manager.runtime(name).loadState() {
            _ = try manager.stop(name)
        }
        try manager.destroy(name)
        printLine("destroyed \(name)")
    }
}

/// `ferry enter NAME`: vzctl's word for a login shell inside.
struct EnterCommand: FerrySubcommand {
    static let configuration = CommandConfiguration(
        commandName: "enter", abstract: "Open a login shell inside a running container (root's shell from its /etc/passwd).",
        discussion: """
            Examples:
              ferry enter web
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var terminal: TerminalOptions
    @Argument(help: "Container name.", completion: .containerName) var name: String

    func run() throws {
        let wantsTerminal = try terminal.allocates()
        let runtime = try global.manager().runtime(try containerName(name))
        let login = ContainerExec.rootLogin(in: runtime.rootfs)
        var exec = ContainerExec(runtime: runtime, arguments: [login.shell, "-l"])
        exec.workingDirectory = login.home
        exec.environment = ["HOME=\(login.home)"]
        exec.terminal = wantsTerminal
        let status = try exec.run()
        if status != 0 { throw ExitCode(status) }
    }
}

/// `ferry exec NAME -- CMD…`
struct ExecCommand: FerrySubcommand {
    static let configuration = CommandConfiguration(
        commandName: "exec", abstract: "Run a command inside a running container.",
        discussion: """
            Examples:
              ferry exec web -- ps aux
              ferry exec -t web -- /bin/bash
              ferry exec web --cwd /srv --env LANG=C.UTF-8 -- ls -l
            """)
    @OptionGroup var global: GlobalOptions
    @Option(help: "Working directory inside the container.") var cwd = "/"
    @Option(name: .customLong("env"), help: "NAME=VALUE for the command's environment.") var environment: [String] = []
    @OptionGroup var terminal: TerminalOptions
    @Flag(name: [.short, .customLong("interactive")], help: "Accepted for habit: stdin is always passed to the command.")
    var interactive = false
    @Argument(help: "Container name.", completion: .containerName) var name: String
    /// After `--` only, so options after NAME are ferry's (`ferry exec web --cwd /srv -- ls`)
    /// and the command's own flags (`grep -v`) are never taken for them.
    @Argument(parsing: .postTerminator, help: "The command and its arguments (after --).") var command: [String] = []

    func run() throws {
        let environment = try environment.map { (text) throws(FerryError) in try EnvironmentAssignment.validated(text) }
        let wantsTerminal = try terminal.allocates()
        let runtime = try global.manager().runtime(try containerName(name))
        var arguments = command
        if arguments.first == "--" { arguments.removeFirst() }
        var exec = ContainerExec(runtime: runtime, arguments: arguments)
        exec.workingDirectory = cwd
        exec.environment = environment
        exec.terminal = wantsTerminal
        let status = try exec.run()
        if status != 0 { throw ExitCode(status) }
    }
}

/// `ferry list [--json]`
struct ListCommand: JSONCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List containers on this host.",
        discussion: """
            Examples:
              ferry list
              ferry --root /var/lib/ferry-test list --json
            """)
    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let summaries = try global.manager().list()
        if json { return try JSONOutput.document("containers", summaries) }
        printLine("NAME".padding(20) + "STATUS".padding(12) + "PID".padding(9) + "AUTO".padding(5) + "ADDRESSES".padding(24) + "STORAGE")
        for summary in summaries {
            printLine(
                summary.name.padding(20) + summary.status.padding(12)
                    + (summary.pid.map(String.init) ?? "-").padding(9)
                    + (summary.autostart ? "yes" : "no").padding(5)
                    + (summary.network.map { $0.addresses.map(\.address.description).joined(separator: ",") }.flatMap { $0.isEmpty ? nil : $0 } ?? "-").padding(24)
                    + summary.storage.summary
                    + (summary.overlay ? ", overlay" : "") + (summary.migration.map { "  [\($0.prefix { $0 != ":" })]" } ?? ""))
        }
    }
}

/// `ferry status NAME [--json]`
struct StatusCommand: JSONCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show one container.",
        discussion: """
            Examples:
              ferry status web
              ferry status web --json
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Container name.", completion: .containerName) var name: String
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let summary = try global.manager().summary(try containerName(name))
        if json { return try JSONOutput.document("container", summary) }
        printLine("name:    \(summary.name)")
        printLine("status:  \(summary.status)\(summary.pid.map { " (init pid \($0))" } ?? "")")
        if let started = summary.startedAt { printLine("started: \(CheckpointUse.describe(started))") }
        if let exit = summary.lastExit { printLine("last exit: status \(exit.status) at \(CheckpointUse.describe(exit.at)) (its output: 'ferry logs \(summary.name)')") }
        printLine("hostname: \(summary.hostname)")
        printLine("autostart: \(summary.autostart ? "yes ('ferry autostart' starts it)" : "no")")
        if let problem = summary.problem { printLine("problem: \(problem)") }
        if let migration = summary.migration { printLine("migration: \(migration)") }
        printLine("storage: \(summary.storage.summary)\(summary.overlay ? ", overlay root" : "")")
        printLine("rootfs:  \(summary.rootfs)")
        printLine("init:    \(summary.command.joined(separator: " "))")
        if let network = summary.network {
            printLine("network: \(network.summary)\(summary.hostInterface.map { ", host end \($0)" } ?? "")")
        } else {
            printLine("network: none (lo only)")
        }
        printLine("limits:  \(summary.limits?.summary ?? "none")")
        printLine("checkpoint: \(summary.checkpoint.summary ?? "none")")
        printLine("security: \(SecurityProfile(rawValue: summary.security)?.summary ?? summary.security)")
        if let map = summary.userNamespace { printLine("user namespace: \(map.summary)") }
        if !summary.devices.isEmpty { printLine("devices: \(summary.devices.map { "/dev/\($0.path)" }.joined(separator: ", ")) (--allow-device)") }
        for bind in summary.binds {
            printLine("bind:    \(bind.source) -> \(bind.destination)\(bind.readOnly ? " (ro)" : "")")
        }
        for share in summary.shares {
            let state: String
            if let since = share.placeholderSince {
                let next = share.returned == true ? "its server is back, the swap follows" : "its server is away; Ferry swaps the share in when it is back"
                state = "a placeholder at \(share.mountPoint) since \(CheckpointUse.describe(since)): \(next)"
            } else {
                state = share.mounted ? "mounted at \(share.mountPoint)" : "not mounted"
            }
            printLine("share:   \(share.share.summary) (\(state))")
        }
    }
}

/// `ferry __monitor NAME`: internal; the process that owns a running container.
struct MonitorCommand: FerrySubcommand {
    static let configuration = CommandConfiguration(
        commandName: "__monitor", abstract: "Internal: supervise a container (started by 'ferry start').",
        shouldDisplay: false)
    @OptionGroup var global: GlobalOptions
    @Option(help: "Restore from this image directory instead of starting fresh.") var restoreFrom: String?
    @Argument var name: String

    func run() throws {
        let report = OwnedReport.take()
        LoggingSetup.bootstrapOnce(verbose: global.verbose, quiet: .info)
        let monitor = ContainerMonitor(root: try global.stateRoot, name: try containerName(name), logger: global.logger("ferry.monitor"))
        let launcher: any ContainerLauncher = restoreFrom.map { RestoreLauncher(imagesPath: $0, engine: global.engine) } ?? FreshStart()
        let code = monitor.run(report: report, launcher: launcher)
        if code != 0 { throw ExitCode(code) }
    }
}

extension String {
    func padding(_ width: Int) -> String {
        count >= width ? self + " " : self + String(repeating: " ", count: width - count)
    }
}
