import ArgumentParser
import FerryContainers
import FerryErrors

/// `ferry set NAME [--memory SIZE|none] [--cpus N|none] [--pids N|none] [--hostname NAME]
/// [--unbind PATH]… [--bind HOSTPATH:PATH[:ro]]… [--autostart true|false]`
struct SetCommand: FerrySubcommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Change a container's limits or autostart (at once, also while it runs), or its hostname and binds (while stopped).",
        discussion: """
            Examples:
              ferry set web --memory 1G --pids 512
              ferry set web --cpus none
              ferry set web --hostname web-2
              ferry set web --bind /srv/data:/data --unbind /old
              ferry set web --autostart true
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Container name.", completion: .containerName) var name: String
    @Option(help: "Memory limit (e.g. 512M), or none.") var memory: String?
    @Option(help: "CPU time limit as a number of CPUs (e.g. 1.5), or none.") var cpus: String?
    @Option(help: "Limit on tasks at once (e.g. 512), or none.") var pids: String?
    @Option(help: "New hostname (the container must be stopped).") var hostname: String?
    @Option(name: .customLong("bind"), help: "HOSTPATH:PATH[:ro] — add a bind, as create --bind (the container must be stopped).")
    var binds: [String] = []
    @Option(name: .customLong("unbind"), help: "PATH — remove the bind at this container path (applied before --bind).")
    var unbinds: [String] = []
    @Option(help: "true or false: whether 'ferry autostart' starts it.", completion: .list(["true", "false"])) var autostart: String?

    func run() throws {
        var change = SettingsChange(memory: memory, cpus: cpus, pids: pids, hostname: hostname)
        change.binds = try binds.map { (text) throws(FerryError) in try BindMount(parsing: text) }
        change.unbinds = unbinds
        change.autostart = try autostart.map { (text) throws(FerryError) in
            switch text {
            case "true", "yes", "on": return true
            case "false", "no", "off": return false
            default: throw FerryError(.invalidArgument, "--autostart '\(text)' is not true or false")
            }
        }
        let config = try global.manager().set(try containerName(name), change)
        printLine("\(config.name): limits \(config.limits?.summary ?? "none"), hostname \(config.hostname), "
            + "binds \(config.binds.isEmpty ? "none" : config.binds.map(\.destination).joined(separator: ",")), autostart \(config.startsAtBoot)")
    }
}
