import ArgumentParser
import FerryContainers
import FerryErrors
import FerrySystem
import Foundation

/// `ferry demo`: the README's main job. On two simulated hosts made by scripts/test-hosts,
/// live-migrates a busybox container with a counter from h1 to h2 and back, printing each
/// migration's summary and the counter on each side.
struct DemoCommand: FerrySubcommand {
    static let configuration = CommandConfiguration(
        commandName: "demo", abstract: "Live-migrate a demo container between two test hosts and back.",
        shouldDisplay: false)
    @OptionGroup var global: GlobalOptions
    @Option(help: "A busybox rootfs directory (scripts/make-rootfs busybox DIR makes one).") var rootfs: String
    @Option(help: "Test hosts directory (scripts/test-hosts up DIR 2 makes one).") var hosts: String

    func run() throws {
        let name = try ContainerName("demo")
        let counter = "i=0; while true; do i=$((i+1)); echo $i > /counter; sleep 0.1; done"
        let one = manager(host: 1)
        let two = manager(host: 2)
        printLine("== h1: creating and starting container \(name)")
        _ = try one.create(CreateRequest(name: name, rootfs: rootfs, overlay: true, command: ["/bin/sh", "-c", counter]))
        defer {
            for host in [one, two] {
                try? host.stop(name, timeout: 0)
                try? host.destroy(name)
            }
        }
        _ = try one.start(name)
        usleep(500_000)
        printLine("   counter on h1: \(try counterValue(one, name))")
        for (from, to) in [(1, 2), (2, 1)] {
            printLine("== migrating \(name) live from h\(from) to h\(to)")
            try migrate(name, from: from, to: to)
            let target = to == 1 ? one : two
            let first = try counterValue(target, name)
            usleep(400_000)
            printLine("   counter on h\(to): \(first) → \(try counterValue(target, name)) (still counting, no reset)")
        }
        try one.stop(name, timeout: 0)
        try one.destroy(name)
        printLine("== stopped and destroyed \(name)")
    }

    private func manager(host: Int) -> ContainerManager {
        ContainerManager(root: StateRoot(path: "\(hosts)/h\(host)/root"), logger: global.logger("ferry.demo"), executable: GlobalOptions.executable)
    }

    private func counterValue(_ manager: ContainerManager, _ name: ContainerName) throws -> String {
        try readText("\(try manager.runtime(name).rootfs)/counter").trimmingNewline
    }

    /// Runs `ferry migrate` inside the source host's network namespace, as an admin would there.
    private func migrate(_ name: ContainerName, from: Int, to: Int) throws {
        let namespace = try readText("\(hosts)/h\(from)/netns").trimmingNewline
        let pid = try Spawn.start(
            [
                "nsenter", "--net=/run/netns/\(namespace)", GlobalOptions.executable, "migrate", name.value, "h\(to)",
                "--root", "\(hosts)/h\(from)/root", "--ssh-config", "\(hosts)/ssh_config",
            ], environment: Spawn.defaultEnvironment + ProcessInfo.processInfo.environment.filter { $0.key.hasPrefix("FERRY_C") }.map { "\($0)=\($1)" },
            stdout: 1, stderr: 2)
        let status = try Spawn.wait(pid)
        guard status == 0 else { throw FerryError(.commandFailed, "the migration from h\(from) to h\(to) failed (status \(status))") }
    }
}
