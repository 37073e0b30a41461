import FerrySystem
import Foundation
import Testing

/// Runs the real `ferry` binary built next to this test bundle, against one state root.
struct Ferry {
    let root: String

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var succeeded: Bool { status == 0 }
    }

    /// The ferry executable SwiftPM built alongside the tests.
    static let executable: String = {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for directory in [bundle, bundle.deletingLastPathComponent(), Bundle.main.bundleURL, Bundle.main.bundleURL.deletingLastPathComponent()] {
            let candidate = directory.appendingPathComponent("ferry").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return Repository.root + "/.build/debug/ferry"
    }()

    /// Runs ferry through posix_spawn (FerrySystem's Spawn): only stdio is inherited, so a
    /// daemon started along the way can never hold our pipes open.
    /// `within`: for what used to hang, ended by `timeout` (SIGTERM, then SIGKILL) and
    /// reported as a failure when it takes longer than that many seconds.
    @discardableResult
    func run(_ arguments: [String], input: String? = nil, within seconds: Int? = nil) throws -> Result {
        let deadline = seconds.map { ["timeout", "--kill-after=10", "\($0)"] } ?? []
        let output = try Spawn.run(deadline + [Self.executable] + arguments, environment: environment, input: input)
        if seconds != nil, output.status == 124 {
            throw TestFailure("ferry \(arguments.joined(separator: " ")) did not end within \(seconds ?? 0) s: \(output.stdout)\(output.stderr)")
        }
        return Result(status: output.status, stdout: output.stdout, stderr: output.stderr)
    }

    /// Starts ferry and returns its pid without waiting. Its stdio are /dev/null, or the
    /// `terminal` (a pty slave) that `setsid --ctty` makes its controlling terminal, as
    /// an admin's shell gives a command it runs in the foreground.
    func start(_ arguments: [String], terminal: Int32? = nil) throws -> pid_t {
        let session = terminal == nil ? [] : ["setsid", "--ctty", "--wait"]
        return try Spawn.start(
            session + [Self.executable] + arguments, environment: environment,
            stdin: terminal, stdout: terminal, stderr: terminal)
    }

    /// This process's environment with the state root.
    private var environment: [String] {
        var environment = ProcessInfo.processInfo.environment
        environment["FERRY_ROOT"] = root
        return environment.map { "\($0)=\($1)" }
    }

    /// Runs and records a test issue (with ferry's own words) unless it succeeds.
    @discardableResult
    func ok(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> Result {
        let result = try run(arguments)
        #expect(result.succeeded, "ferry \(arguments.joined(separator: " ")) failed: \(result.stderr)", sourceLocation: sourceLocation)
        if !result.succeeded { throw TestFailure("ferry \(arguments.first ?? "") failed: \(result.stderr)") }
        return result
    }

    /// Runs a command in the container and returns its stdout.
    func exec(_ name: String, _ script: String) throws -> String {
        try ok(["exec", name, "--", "/bin/sh", "-c", script]).stdout
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

enum Repository {
    /// The checkout this test file lives in.
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url.path }
        }
        return FileManager.default.currentDirectoryPath
    }()
}
