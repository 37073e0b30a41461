import ArgumentParser
import FerryContainers
import FerryErrors
import FerrySystem
import Glibc

/// `ferry logs NAME [-f] [--tail N]`: the init's console output as its monitor kept it
/// (see ConsoleLog), running or stopped, and across checkpoints and migrations.
struct LogsCommand: FerrySubcommand {
    static let configuration = CommandConfiguration(
        commandName: "logs", abstract: "Show the output of a container's init.",
        discussion: """
            Examples:
              ferry logs web
              ferry logs -f --tail 20 web
            """)
    @OptionGroup var global: GlobalOptions
    @Flag(name: [.short, .customLong("follow")], help: "Keep printing new output (across a restore) until interrupted or the container is gone.")
    var follow = false
    @Option(help: "Only the last N lines.") var tail: Int?
    @Argument(help: "Container name.", completion: .containerName) var name: String

    func run() throws {
        if let tail, tail < 0 {
            throw FerryError(.invalidArgument, "--tail \(tail) is not a number of lines; give 0 or more")
        }
        let runtime = try global.manager().runtime(try containerName(name))
        let log = runtime.layout.consoleLog
        let write = { (bytes: [UInt8]) in _ = DescriptorIO.writeAll(STDOUT_FILENO, bytes[...]) }
        guard follow else {
            let kept = log.contents()
            return write(tail.map { ConsoleLog.lastBytes(lines: $0, of: kept) } ?? kept)
        }
        // Followed until the container is destroyed or has migrated away.
        let config = runtime.layout.config
        ConsoleLogFollower(log: log).run(tail: tail, emit: write, stop: { access(config, F_OK) != 0 })
    }
}

/// `ferry console NAME`: attach to the init's console; Ctrl-a q detaches.
struct ConsoleCommand: FerrySubcommand {
    static let configuration = CommandConfiguration(
        commandName: "console", abstract: "Attach to a running container's console (detach with Ctrl-a q).",
        discussion: """
            Examples:
              ferry console web
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Container name.", completion: .containerName) var name: String

    func run() throws {
        let runtime = try global.manager().runtime(try containerName(name))
        let tty = isatty(STDIN_FILENO) == 1
        // On a terminal in raw mode a bare "\n" would not return the carriage.
        let eol = tty ? "\r\n" : "\n"
        FileOutput.standardError.write("Connected to the console of \(runtime.config.name); detach with Ctrl-a q\(eol)")
        switch try ConsoleSession(runtime: runtime).run() {
        case .detached: FileOutput.standardError.write("\(eol)Detached from \(runtime.config.name); it runs on\n")
        case .containerGone: FileOutput.standardError.write("\(eol)The console of \(runtime.config.name) closed: the container stopped\n")
        }
    }
}
