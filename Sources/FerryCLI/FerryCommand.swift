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
            ListCommand.self, StatusCommand.self, LogsCommand.self, ConsoleCommand.self, DestroyCommand.self, MountsCommand.self, CheckpointCommand.self, RestoreCommand.self, MigrateCommand.self,
            AgentCommand.self, RecoverCommand.self, AutostartCommand.self,
            DemoCommand.self,
            MonitorCommand.self, PlaceholderCommand.self, ShareReturnCommand.self,
        ])

    /// This release's number, bumped with every tagged release.
    static let release = "0.5.0"

    public init() {}

    /// Options given before the subcommand (`ferry --root DIR list`). ArgumentParser hands
    /// an option group's values to the subcommand's group of the same type and name, so
    /// every command still reads its own `global`; this declaration only lets the root
    /// accept them.
    @OptionGroup var global: GlobalOptions

    /// Exit statuses (the README's table): 2 for bad usage, 127/126 for a command `exec`
    /// cannot find or run (as a shell says), 128+N after the rollback of work signal N
    /// interrupted (130 for a Ctrl-C), 1 for every other failure.
    static func exitStatus(of code: FerryError.Code) -> Int32 {
        switch code {
        case .invalidArgument: usageStatus
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
        let parsed: any ParsableCommand
        do {
            parsed = try parseAsRoot()
        } catch {
            exitForUsage(error)
        }
        let json = (parsed as? any JSONCommand)?.json ?? false
        do {
            var command = parsed
            verbose = (command as? any FerrySubcommand)?.global.verbose ?? false
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
            guard json else { exit(withError: error) }
            JSONOutput.error(code: FerryError.Code.commandFailed.rawValue, message: message(for: error))
            exit(withError: exitCode(for: error))
        }
    }

    /// A command line ArgumentParser refused exits 2, as bad usage does everywhere in Ferry
    /// (ArgumentParser's own choice is sysexits' 64); `--help` and `--version` exit 0.
    /// With `--json` among the words (the line did not parse, so they are all there is to
    /// go by), the refusal is a JSON error document on stdout like any other failure.
    private static func exitForUsage(_ error: any Error) -> Never {
        guard exitCode(for: error) == .validationFailure else { exit(withError: error) }
        if CommandLine.arguments.prefix(while: { $0 != "--" }).contains("--json") {
            JSONOutput.error(code: FerryError.Code.invalidArgument.rawValue, message: message(for: error))
        } else {
            FileOutput.standardError.write(fullMessage(for: error) + "\n")
        }
        exit(withError: ExitCode(usageStatus))
    }

    static let usageStatus: Int32 = 2
}
