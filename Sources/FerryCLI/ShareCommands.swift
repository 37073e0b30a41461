import ArgumentParser
import FerryCheckpoint
import FerryContainers
import FerryPlaceholder
import FerrySystem
import Glibc

/// `ferry __placeholder`: internal; serves a share's placeholder (started by the monitor).
struct PlaceholderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "__placeholder", abstract: "Internal: serve the placeholder of a share whose server is away.",
        shouldDisplay: false)
    @Option(help: "The inventory (JSON) of what the placeholder shows.") var inventory: String
    @Option(help: "Where the real share is mounted once it is back.") var backing: String
    @Option(help: "The filesystem's name in mountinfo.") var label: String
    @Argument var mountPoint: String

    func run() throws {
        // fd 3: closed once mounted, or a message saying why not.
        let report = OwnedReport.take()
        let inventory = try JSONFile.read(ShareInventory.self, from: inventory, what: "placeholder inventory")
        let code = PlaceholderDaemon.serve(inventory: inventory, mountPoint: mountPoint, backing: backing, label: label, ready: report)
        if code != 0 { throw ExitCode(code) }
    }
}

/// `ferry __share-return NAME`: internal; waits for shares that are away and swaps them in.
struct ShareReturnCommand: FerrySubcommand {
    static let configuration = CommandConfiguration(
        commandName: "__share-return", abstract: "Internal: swap returned shares in for their placeholders (started by the monitor).",
        shouldDisplay: false)
    @OptionGroup var global: GlobalOptions
    @Argument var name: String

    func run() throws {
        LoggingSetup.bootstrapOnce(verbose: global.verbose, quiet: .info)
        let logger = global.logger("ferry.shares")
        _ = try ShareReturn(manager: global.manager(), engine: global.engine, logger: logger).run(try containerName(name))
    }
}
