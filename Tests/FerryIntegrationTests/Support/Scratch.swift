import FerrySystem
import Foundation
import Testing

/// A private state root (a simulated host) for one test, with everything under it removed
/// again when the test ends, passed or failed.
final class Scratch {
    let directory: String
    let ferry: Ferry

    init(_ label: String) throws {
        try Requirements.check()
        directory = "/tmp/ferry-tests/\(label)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        ferry = Ferry(root: directory + "/state")
    }

    var stateRoot: String { directory + "/state" }

    /// A second simulated host on this machine: another state root in the scratch directory.
    func secondHost() -> Ferry { Ferry(root: directory + "/state-b") }

    /// Stops and destroys every container left in the root, then removes the directory
    /// without crossing into any mount that might still be there.
    func cleanUp() {
        let roots = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasPrefix("state") }
        for root in roots {
            let host = Ferry(root: path(root))
            let names = (try? FileManager.default.contentsOfDirectory(atPath: path(root) + "/containers")) ?? []
            for name in names where !name.hasPrefix(".") {
                _ = try? host.run(["stop", name, "--timeout", "0"])
                _ = try? host.run(["destroy", name])
                Self.forceKill(path(root) + "/containers/" + name)
            }
        }
        let mounts = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        for line in mounts.split(separator: "\n").reversed() {
            let fields = line.split(separator: " ")
            if fields.count > 4, fields[4].hasPrefix(directory) { umount2(String(fields[4]), Int32(MNT_DETACH)) }
        }
        _ = try? Shell.run(["rm", "-rf", "--one-file-system", directory])
    }

    func path(_ relative: String) -> String { directory + "/" + relative }

    /// Last resort when `ferry stop` failed in a broken test: kill the recorded init and
    /// monitor (only those: pids Ferry wrote for this container, checked to still be ours).
    static func forceKill(_ containerDirectory: String) {
        guard let data = FileManager.default.contents(atPath: containerDirectory + "/run.json") else { return }
        forceKill(recordedIn: data)
    }

    /// The same for the contents of a run.json saved earlier.
    static func forceKill(recordedIn data: Data) {
        guard let state = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return }
        for key in ["initPid", "monitorPid"] {
            guard let pid = state[key] as? Int32 ?? (state[key] as? Int).map(Int32.init) else { continue }
            let startKey = key == "initPid" ? "initStartTime" : "monitorStartTime"
            let recorded = (state[startKey] as? UInt64) ?? (state[startKey] as? Int).map(UInt64.init)
            if let recorded, ProcFS.startTime(of: pid) == recorded { kill(pid, SIGKILL) }
        }
    }
}

/// What the privileged tests need. Missing pieces fail the test with the reason: CI runs
/// as root on a machine that scripts/setup prepared, so nothing may be silently skipped.
enum Requirements {
    static func check() throws {
        guard getuid() == 0 else {
            throw TestFailure("integration tests need root (namespaces, mounts, loop devices); run the README test command as root")
        }
        for tool in ["mkfs.ext4", "busybox", "sha256sum", "tar"] where Shell.which(tool) == nil {
            throw TestFailure("\(tool) is missing; run scripts/setup first")
        }
    }
}

enum Shell {
    static func which(_ tool: String) -> String? {
        for directory in ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"] {
            if FileManager.default.isExecutableFile(atPath: "\(directory)/\(tool)") { return "\(directory)/\(tool)" }
        }
        return nil
    }

    /// Starts a long-running program (its output discarded) and returns its pid; the
    /// caller ends it with `stop`.
    static func start(_ arguments: [String]) throws -> pid_t {
        try Spawn.start(arguments, environment: Spawn.defaultEnvironment)
    }

    static func stop(_ pid: pid_t) {
        kill(pid, SIGTERM)
        _ = try? Spawn.wait(pid)
    }

    @discardableResult
    static func run(_ arguments: [String]) throws -> String {
        let output = try Spawn.run(arguments, environment: Spawn.defaultEnvironment)
        guard output.status == 0 else {
            throw TestFailure("\(arguments.joined(separator: " ")) exited \(output.status): \(output.stdout)\(output.stderr)")
        }
        return output.stdout
    }
}

/// Busybox root filesystems built by scripts/make-rootfs (about a second each).
enum Rootfs {
    static func busybox(in scratch: Scratch, named name: String = "rootfs") throws -> String {
        let path = scratch.path(name)
        try Shell.run([Repository.root + "/scripts/make-rootfs", "busybox", path])
        return path
    }
}

/// A snapshot of the host that a finished test must leave as it found it.
struct HostSnapshot: Equatable {
    var mountinfo: String

    static func take() throws -> HostSnapshot {
        HostSnapshot(mountinfo: try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8))
    }
}

/// Live (non-zombie) processes and their pid namespaces.
enum HostProcesses {
    struct Entry: Hashable {
        var pid: Int32
        var command: String
    }

    static func live() -> Set<Entry> {
        let pids = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }
        var result = Set<Entry>()
        for pid in pids {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            let state = stat[stat.index(close, offsetBy: 2)]
            if state == "Z" { continue }
            let command = (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)) ?? ""
            result.insert(Entry(pid: pid, command: command.trimmingCharacters(in: .newlines)))
        }
        return result
    }

    /// The real uids (as the host sees them) of live processes whose command line is `command`.
    static func uids(of command: String) -> Set<UInt32> {
        let pids = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }
        var result = Set<UInt32>()
        for pid in pids {
            guard let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
                String(decoding: cmdline, as: UTF8.self).split(separator: "\0").joined(separator: " ") == command,
                let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
                let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Uid:") }),
                let uid = line.split(separator: "\t").dropFirst().first.flatMap({ UInt32($0) })
            else { continue }
            result.insert(uid)
        }
        return result
    }

    /// Pids whose pid namespace is the given one (by inode of /proc/PID/ns/pid).
    static func inPidNamespace(_ inode: String) -> [Int32] {
        let pids = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }
        return pids.filter { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\($0)/ns/pid")) == inode }
    }
}

/// Waits until `condition` holds, up to `seconds`, looking again `every` seconds.
func eventually(_ seconds: Double = 10, every interval: Double = 0.05, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return true }
        usleep(useconds_t(interval * 1_000_000))
    }
    return try condition()
}

/// sha256 over a whole directory tree (paths, modes and contents), for "unchanged" checks.
func treeChecksum(_ path: String) throws -> String {
    try Shell.run(["sh", "-c", "cd '\(path)' && find . -printf '%p %m %s %l\\n' | LC_ALL=C sort | sha256sum; cd '\(path)' && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum"])
}
