import FerrySystem
import Foundation
import Testing

/// Simulated hosts (scripts/test-hosts): network namespaces with sshd, each with its own
/// Ferry state root. `ferry` runs inside a host's network namespace, as on a real host.
final class TestHosts {
    let directory: String
    let count: Int

    init(_ scratch: Scratch, count: Int = 2) throws {
        directory = scratch.path("hosts")
        self.count = count
        try Shell.run([Repository.root + "/scripts/test-hosts", "up", directory, "\(count)"])
    }

    func root(_ host: Int) -> String { "\(directory)/h\(host)/root" }
    var sshConfig: String { "\(directory)/ssh_config" }

    func namespace(_ host: Int) throws -> String {
        try String(contentsOfFile: "\(directory)/h\(host)/netns", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Whether each host opens a TCP connection to every other host's sshd now.
    func allReachEachOther() throws -> Bool {
        for from in 1...count {
            for to in 1...count where to != from {
                let probe = "exec 3<>/dev/tcp/fd00:fe::\(to)/22"
                let result = try Spawn.run(["ip", "netns", "exec", try namespace(from), "timeout", "2", "bash", "-c", probe])
                if result.status != 0 { return false }
            }
        }
        return true
    }

    /// ferry on host N (its network namespace and state root).
    func ferry(_ host: Int) -> HostFerry { HostFerry(hosts: self, host: host) }

    /// Stops and destroys every container on every host, then removes the hosts.
    func tearDown() {
        for host in 1...count {
            let ferry = Ferry(root: root(host))
            let names = (try? FileManager.default.contentsOfDirectory(atPath: root(host) + "/containers")) ?? []
            for name in names where !name.hasPrefix(".") {
                _ = try? ferry.run(["stop", name, "--timeout", "0"])
                _ = try? ferry.run(["destroy", name])
                Scratch.forceKill(root(host) + "/containers/" + name)
            }
        }
        _ = try? Shell.run([Repository.root + "/scripts/test-hosts", "down", directory])
    }
}

/// Runs ferry as host N would: in its network namespace, with its state root.
struct HostFerry {
    let hosts: TestHosts
    let host: Int

    var plain: Ferry { Ferry(root: hosts.root(host)) }

    @discardableResult
    func run(_ arguments: [String], environment extra: [String: String] = [:]) throws -> Ferry.Result {
        var environment = ProcessInfo.processInfo.environment
        environment["FERRY_ROOT"] = hosts.root(host)
        for (key, value) in extra { environment[key] = value }
        let argv = ["nsenter", "--net=/run/netns/\(try hosts.namespace(host))", Ferry.executable] + arguments
        let output = try Spawn.run(argv, environment: environment.map { "\($0)=\($1)" })
        return Ferry.Result(status: output.status, stdout: output.stdout, stderr: output.stderr)
    }

    /// `ferry migrate NAME hM` with the hosts' ssh configuration.
    @discardableResult
    func migrate(_ name: String, to target: Int, _ extra: [String] = [], environment: [String: String] = [:]) throws -> Ferry.Result {
        try run(["migrate", name, "h\(target)", "--ssh-config", hosts.sshConfig] + extra, environment: environment)
    }
}
