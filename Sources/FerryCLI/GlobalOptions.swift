import ArgumentParser
import FerryCRIU
import FerryContainers
import FerryErrors
import Foundation
import Logging

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "Ferry state root (default $FERRY_ROOT or /var/lib/ferry).", completion: .directory)
    var root: String?

    @Option(name: .long, help: "CRIU executable (default $FERRY_CRIU or the one scripts/setup installed).", completion: .file())
    var criu: String?

    @Flag(name: [.short, .long], help: "Log details and print the cause chain of errors.")
    var verbose = false

    /// The state root, checked before any command touches it.
    var stateRoot: StateRoot {
        get throws(FerryError) {
            let stateRoot = StateRoot(path: root)
            try stateRoot.validate()
            return stateRoot
        }
    }
    var engine: CRIUEngine { CRIUEngine(path: criu) }

    func logger(_ label: String) -> Logger {
        LoggingSetup.bootstrapOnce(verbose: verbose)
        return Logger(label: label)
    }

    func manager() throws(FerryError) -> ContainerManager {
        ContainerManager(root: try stateRoot, logger: logger("ferry.containers"), executable: Self.executable)
    }

    /// This very binary, to re-run as the container monitor.
    static var executable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}

/// Every subcommand takes the global options. Through this `runMain` learns whether
/// `-v`/`--verbose` was given as parsed, so that a `-v` after `--` (the `grep -v` that
/// `ferry exec` runs) never counts as Ferry's own.
protocol FerrySubcommand: ParsableCommand {
    var global: GlobalOptions { get }
}

enum LoggingSetup {
    nonisolated(unsafe) private static var done = false

    /// The executable bootstraps logging once; libraries only take a Logger.
    /// `quiet`: the level without --verbose; the internal processes (monitor, share return)
    /// write a log file an admin reads after the fact, so they say more.
    static func bootstrapOnce(verbose: Bool, quiet: Logger.Level = .warning) {
        guard !done else { return }
        done = true
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = verbose ? .debug : quiet
            return handler
        }
    }
}

/// Unbuffered writes to stdout/stderr, so output interleaves correctly with children's.
struct FileOutput {
    let fd: Int32
    static let standardOutput = FileOutput(fd: 1)
    static let standardError = FileOutput(fd: 2)

    func write(_ text: String) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
            if written <= 0 { return }
            bytes = bytes.dropFirst(written)
        }
    }
}

func printLine(_ text: String = "") {
    FileOutput.standardOutput.write(text + "\n")
}

extension ContainerName: ExpressibleByArgument {
    public init?(argument: String) {
        try? self.init(argument)
    }
}

/// Parses a container name with Ferry's own error message (ArgumentParser's is generic).
func containerName(_ text: String) throws -> ContainerName {
    try ContainerName(text)
}
