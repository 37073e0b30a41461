import ArgumentParser
import FerryErrors
import FerryMigration
import FerrySystem
import Glibc

/// `ferry`: run system containers and move them between hosts with their mount state.
public struct FerryCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "ferry",
        abstract: "Run Linux system containers and live-migrate them with their mount state.",
        version: "ferry \(FerryCommand.release) (agent protocol \(AgentProtocol.version))",
        subcommands: [
            CheckCommand.self, CreateCommand.self, StartCommand.self, StopCommand.self, ExecCommand.self, EnterCommand.self, SetCommand.self,
            ListCommand.self, StatusCommand.self, DestroyCommand.self, MountsCommand.self, CheckpointCommand.self, RestoreCommand.self, MigrateCommand.self,
            AgentCommand.self, RecoverCommand.self, AutostartCommand.self,
            DemoCommand.self,
            MonitorCommand.self, PlaceholderCommand.self, ShareReturnCommand.self,
        ])

    /// This release's number, bumped with every tagged release.
    static let release = "0.5.0"

    public init() {}

    /// Exit statuses: 2 for bad usage, 127/126 for a command `exec` cannot find or run (as
    /// a shell says), 128+N after the rollback of work signal N interrupted (130 for a
    /// Ctrl-C), 1 for every other failure.
    static func exitStatus(of code: FerryError.Code) -> Int32 {
        switch code {
        case .invalidArgument: 2
        case .commandNotFound: 127
        case .commandNotExecutable: 126
        case .interrupted: 128 + (Interruption.signal ?? SIGINT)
        default: 1
        }
    }

    /// Runs the command line, printing Ferry errors in one or two lines, or as a JSON
    /// document on stdout when `--json` was given (a script then reads one stream).
    public static func runMain() -> Never {
        ProcessControl.ignoreBrokenPipes()
        var verbose = false
        // Until the command line is parsed, whether it asked for JSON is all there is to go by.
        var json = CommandLine.arguments.prefix { $0 != "--" }.contains("--json")
        var parsed = false
        do {
            var command = try parseAsRoot()
            parsed = true
            verbose = (command as? any FerrySubcommand)?.global.verbose ?? false
            json = (command as? any JSONCommand)?.json ?? false
            try command.run()
            exit(withError: nil)
        } catch let error as FerryError {
            let message = verbose ? error.detailedDescription : error.message
            if json {
                JSONOutput.error(code: error.code.rawValue, message: message)
            } else {
                FileOutput.standardError.write("ferry: \(message)\n")
            }
            exit(withError: ExitCode(exitStatus(of: error.code)))
        } catch let exit as ExitCode {
            Self.exit(withError: exit)
        } catch {
            // Help and version requests arrive as errors too, with a success status.
            let status = exitCode(for: error)
            guard json, status != .success else { exit(withError: error) }
            let code: FerryError.Code = parsed ? .commandFailed : .invalidArgument
            JSONOutput.error(code: code.rawValue, message: message(for: error))
            exit(withError: status)
        }
    }
}
