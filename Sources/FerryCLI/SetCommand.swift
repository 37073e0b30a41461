import ArgumentParser
import FerryContainers

/// `ferry set NAME [--memory SIZE|none] [--cpus N|none] [--pids N|none] [--hostname NAME]`
struct SetCommand: FerrySubcommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Change a container's limits (at once, also while it runs) or its hostname (while stopped).",
        discussion: """
            Examples:
              ferry set web --memory 1G --pids 512
              ferry set web --cpus none
              ferry set web --hostname web-2
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Container name.", completion: .containerName) var name: String
    @Option(help: "Memory limit (e.g. 512M), or none.") var memory: String?
    @Option(help: "CPU time limit as a number of CPUs (e.g. 1.5), or none.") var cpus: String?
    @Option(help: "Limit on tasks at once (e.g. 512), or none.") var pids: String?
    @Option(help: "New hostname (the container must be stopped).") var hostname: String?

    func run() throws {
        let config = try global.manager().set(
            try containerName(name), SettingsChange(memory: memory, cpus: cpus, pids: pids, hostname: hostname))
        printLine("\(config.name): limits \(config.limits?.summary ?? "none"), hostname \(config.hostname)")
    }
}
