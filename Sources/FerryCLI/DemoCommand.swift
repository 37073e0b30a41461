import ArgumentParser
import FerryContainers
import FerryErrors
import FerrySystem
import Foundation

/// `ferry demo`: the README's main job. For now: create, start, show and stop a busybox
/// container with a counter, in a state root of its own.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo", abstract: "Create, start, inspect and stop a demo container.")
    @OptionGroup var global: GlobalOptions
    @Option(help: "A busybox rootfs directory (scripts/make-rootfs busybox DIR makes one).") var rootfs: String

    func run() throws {
        let manager = global.manager()
        let name = try ContainerName("demo-\(getpid())")
        printLine("== creating \(name) from \(rootfs)")
        _ = try manager.create(CreateRequest(
            name: name, rootfs: rootfs, overlay: true,
            command: ["/bin/sh", "-c", "i=0; while true; do i=$((i+1)); echo $i > /counter; sleep 0.1; done"]))
        defer {
            try? manager.stop(name, timeout: 0)
            try? manager.destroy(name)
        }
        let pid = try manager.start(name)
        printLine("== started, init pid \(pid) on the host")
        let runtime = try manager.runtime(name)
        for _ in 0..<3 {
            usleep(300_000)
            printLine("counter: " + (try readText("\(runtime.rootfs)/counter")).trimmingNewline)
        }
        var exec = ContainerExec(runtime: runtime, arguments: ["/bin/sh", "-c", "echo \"inside: hostname $(hostname), pid 1 is $(cat /proc/1/comm), links: $(ls /sys/class/net)\""])
        exec.workingDirectory = "/"
        _ = try exec.run()
        try manager.stop(name, timeout: 0)
        printLine("== stopped")
        try manager.destroy(name)
        printLine("== destroyed")
    }
}
