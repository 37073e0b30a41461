import FerrySystem
import Foundation
import Synchronization
import Testing

/// Every fault from outside at every moment it can strike, on a throttled live migration of a
/// 256 MiB container. Whatever the cell, the outcome is the same: ferry ends with a message
/// (or was the one killed), and once the hosts can talk again (after `ferry recover` where a
/// journal was left) the container runs on exactly one host with its memory checksum intact,
/// and nothing of it remains anywhere else.
extension Integration.MigrationFaults {
    enum Fault: String, Sendable {
        case targetAgentKilled = "kill -9 of the target's agent"
        case sourceKilled = "kill -9 of the source's ferry"
        case linkCut = "the target's link cut for good"
        case targetCRIUKilled = "kill -9 of the target's CRIU"
        case restoredInitKilled = "kill -9 of the restored init"
    }

    /// When a fault strikes, each recognised from outside (a process, a state), except
    /// three too short to catch reliably — CRIU's dump (a few hundred ms) and the two
    /// around the commit (a round trip): there the source stops itself
    /// (FERRY_FAIL_AT=…:hold, SIGSTOP; during the dump at CRIU's post-dump notification,
    /// the tasks still frozen) until the fault has struck.
    enum Moment: String, Sendable {
        case presync = "during the live pre-sync"
        case dump = "while the source's CRIU dumps"
        case sendImages = "while the memory crosses"
        case restoreBegun = "as the target's restore begins"
        case restoreUnderWay = "half-way through the target's restore"
        case pending = "while the target's copy waits for the commit"
        case committing = "after the source's commit mark, before the target heard it"

        var hold: String? {
            switch self {
            case .dump: "criu-post-dump:hold"
            case .pending: "finish-source:hold"
            case .committing: "finish-source:committed:hold"
            default: nil
            }
        }
    }

    struct Cell: Sendable, CustomTestStringConvertible {
        let fault: Fault
        let moment: Moment
        var testDescription: String { "\(fault.rawValue) \(moment.rawValue)" }
    }

    static let cells: [Cell] = [
        .init(fault: .targetAgentKilled, moment: .presync), .init(fault: .targetAgentKilled, moment: .sendImages),
        .init(fault: .targetAgentKilled, moment: .restoreBegun), .init(fault: .targetAgentKilled, moment: .pending),
        .init(fault: .targetAgentKilled, moment: .committing),
        .init(fault: .sourceKilled, moment: .presync), .init(fault: .sourceKilled, moment: .dump),
        .init(fault: .sourceKilled, moment: .sendImages), .init(fault: .sourceKilled, moment: .restoreBegun),
        .init(fault: .sourceKilled, moment: .pending), .init(fault: .sourceKilled, moment: .committing),
        .init(fault: .linkCut, moment: .presync), .init(fault: .linkCut, moment: .sendImages),
        .init(fault: .linkCut, moment: .restoreBegun), .init(fault: .linkCut, moment: .committing),
        .init(fault: .targetCRIUKilled, moment: .restoreBegun), .init(fault: .targetCRIUKilled, moment: .restoreUnderWay),
        .init(fault: .restoredInitKilled, moment: .pending), .init(fault: .restoredInitKilled, moment: .committing),
    ]

    /// How long ferry may take to end after a fault (README, "Bounded time"): the longest
    /// path is a cut link, noticed by ssh keepalives (15 s) and followed by a lease waited out.
    static let faultBound = 120.0
    /// The lease the target enforces on its copy in these cells: short, so cuts end soon.
    static let lease = 8

    @Test(arguments: cells) func aFaultLeavesTheContainerOnExactlyOneHost(_ cell: Cell) throws {
        let name = "fm"
        try Self.scene(
            "migrate-matrix", container: name, command: "/bin/memhog 256",
            prepare: { rootfs in
                try Fixtures.installMemhog(into: rootfs)
                try Self.ballast(24)(rootfs)
            }
        ) { scene in
            let (a, hosts) = (scene.a, scene.hosts)
            #expect(try a.plain.waitFor(name, file: "/counter", seconds: 60))
            let sum = try a.plain.read(name, "/memsum")
            let sourceCgroups = Self.cgroupDirectories(of: name)
            let target = try hosts.namespace(2)
            // A cut link must keep its address to come back with it.
            try Shell.run(["ip", "netns", "exec", target, "sysctl", "-qw", "net.ipv6.conf.eth0.keep_addr_on_down=1"])
            defer { _ = try? Shell.run(["ip", "-n", target, "link", "set", "eth0", "up"]) }
            // 256 Mbit/s: the 256 MiB of memory take about 9 s to cross, the rootfs about 1 s.
            let unthrottle = try scene.throttle("256mbit")
            defer { unthrottle() }

            var environment = ["FERRY_MIGRATION_LEASE": "\(Self.lease)"]
            if let hold = cell.moment.hold { environment["FERRY_FAIL_AT"] = hold }
            let (migrate, output) = try scene.startMigration(environment: environment)
            let log = { (try? String(contentsOfFile: output, encoding: .utf8)) ?? "" }
            var status: Int32?
            defer {
                if status == nil {
                    kill(migrate, SIGKILL)
                    _ = try? Spawn.wait(migrate)
                }
            }

            // The moment.
            let reached = try Self.reach(cell.moment, scene: scene, migrate: migrate, sourceCgroups: sourceCgroups)
            try #require(reached, "\(cell.moment.rawValue) never came: \(log())")

            // The fault.
            try Self.strike(cell.fault, scene: scene, migrate: migrate, sourceCgroups: sourceCgroups)
            let struck = Date()
            if cell.moment.hold != nil { kill(migrate, SIGCONT) }

            // Ferry ends, with a message unless it was the one killed.
            #expect(try eventually(Self.faultBound) { status = Spawn.reapIfExited(migrate); return status != nil }, "ferry still runs: \(log())")
            let took = Date().timeIntervalSince(struck)
            let text = log()
            if cell.fault == .sourceKilled {
                #expect(status == 137, "exit \(status ?? -1): \(text)")
            } else {
                #expect(text.contains(status == 0 ? "migrated \(name)" : "migration of \(name)"), "ferry ended without saying why (exit \(status ?? -1)): \(text)")
            }
            print("[\(cell.testDescription)] ferry ended \(String(format: "%.1f", took)) s after the fault, exit \(status ?? -1)")

            // The hosts talk again; a journal left is recovered.
            if cell.fault == .linkCut {
                try Shell.run(["ip", "-n", target, "link", "set", "eth0", "up"])
                #expect(try Self.linkIsBack(target, hosts: hosts), "the target's link did not come back")
            }
            if FileManager.default.fileExists(atPath: hosts.root(1) + "/migrations/\(name).json") {
                let recovered = try a.run(["recover", name])
                #expect(recovered.succeeded, "\(recovered.stdout) \(recovered.stderr)")
            }

            // Exactly one copy, memory intact, running; nothing of it elsewhere.
            let owner = try #require(try Self.soleOwner(of: name, hosts), "not exactly one host runs the container: \(text)")
            let ferry = hosts.ferry(owner).plain
            #expect(try ferry.read(name, "/memsum") == sum, "memory changed")
            let before = try ferry.counter(name)
            #expect(try eventually { try ferry.counter(name) > before }, "the surviving copy does not run")
            try Self.expectNothingLeft(of: name, hosts: hosts, owner: owner)
        }
    }

    /// Waits for the moment; true once it has come (and, for a hold, ferry has stopped there).
    static func reach(_ moment: Moment, scene: Scene, migrate: pid_t, sourceCgroups: Set<String>) throws -> Bool {
        let hosts = scene.hosts
        let rsyncs = { processes(mentioning: hosts.root(1), named: ["rsync"]).map { commandLine(of: $0) } }
        switch moment {
        case .presync:
            return try eventually(60) { !rsyncs().isEmpty }
        case .sendImages:
            // The memory crosses on the image stream while CRIU dumps: the target's page
            // server has written a good part of it (the link is throttled: seconds of it).
            let images = hosts.root(2) + "/containers/.\(scene.name).incoming/images"
            return try eventually(90, every: 0.02) {
                let pages = ((try? FileManager.default.contentsOfDirectory(atPath: images)) ?? []).filter { $0.hasPrefix("pages-") }
                return pages.contains { name in
                    (((try? FileManager.default.attributesOfItem(atPath: "\(images)/\(name)"))?[.size] as? Int) ?? 0) > 32 << 20
                }
            }
        case .restoreBegun:
            return try eventually(120, every: 0.01) { targetCRIU(hosts) != nil }
        case .restoreUnderWay:
            // Half the memory is back in the target's cgroup. The restore fills it in well
            // under a second, so each poll must be cheap: the CRIU and the cgroup found once
            // are watched, not looked for again; the CRIU is the one the strike kills.
            var criu: pid_t?
            var usage: String?
            return try eventually(120, every: 0.002) {
                if criu.map({ kill($0, 0) != 0 }) ?? true { criu = targetCRIU(hosts) }
                guard let found = criu else { return false }
                if usage == nil {
                    usage = cgroupDirectories(of: scene.name).subtracting(sourceCgroups)
                        .first { $0.hasPrefix("/sys/fs/cgroup/memory/") }.map { $0 + "/memory.usage_in_bytes" }
                }
                guard let usage else { return false }
                let bytes = UInt64((try? String(contentsOfFile: usage, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
                if bytes > 128 << 20 { struckCRIU.withLock { $0 = found } }
                return bytes > 128 << 20
            }
        case .dump, .pending, .committing:
            return try eventually(150) { processState(migrate) == "T" }
        }
    }

    static func strike(_ fault: Fault, scene: Scene, migrate: pid_t, sourceCgroups: Set<String>) throws {
        let hosts = scene.hosts
        switch fault {
        case .targetAgentKilled:
            let victim = try #require(Self.agent(of: hosts, 2), "no agent serves h2")
            kill(victim, SIGKILL)
        case .sourceKilled:
            kill(migrate, SIGKILL)
        case .linkCut:
            try Shell.run(["ip", "-n", try hosts.namespace(2), "link", "set", "eth0", "down"])
        case .targetCRIUKilled:
            // The one the moment saw, if it chose one; a strike a moment later must not
            // miss a restore that has just finished.
            let chosen = struckCRIU.withLock { value in defer { value = nil }; return value }
            let criu = try #require(chosen ?? targetCRIU(hosts), "the target's CRIU is gone")
            kill(criu, SIGKILL)
        case .restoredInitKilled:
            let status = try scene.b.plain.ok(["status", scene.name, "--json"]).stdout
            let pid = try #require(try JSONDocuments.payload(status, "container")["pid"] as? Int, "no init on h2: \(status)")
            kill(pid_t(pid), SIGKILL)
        }
    }

    /// The host whose copy runs, when exactly one does (a fenced copy may take the lease
    /// plus its monitor's check to go).
    static func soleOwner(of name: String, _ hosts: TestHosts) throws -> Int? {
        let runs = { (host: Int) in ((try? hosts.ferry(host).plain.run(["status", name]))?.stdout ?? "").contains("status:  running") }
        var owner: Int?
        _ = eventually(Double(lease) + 30) {
            let running = (1...2).filter(runs)
            owner = running.count == 1 ? running[0] : nil
            let other = owner.map { $0 == 1 ? 2 : 1 }
            return other.map { !FileManager.default.fileExists(atPath: hosts.root($0) + "/containers/\(name)") } ?? false
        }
        return owner
    }

    /// No process, staging directory, image, cgroup or mount of the container outside its owner.
    static func expectNothingLeft(of name: String, hosts: TestHosts, owner: Int, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let other = owner == 1 ? 2 : 1
        let leftovers = {
            allProcesses().filter { pid in
                let environment = environ(of: pid)
                let comm = self.comm(of: pid)
                let strays = ["rsync", "ssh"].contains(comm) || isCRIU(pid) || commandLine(of: pid).contains(" agent")
                return environment.contains("FERRY_ROOT=\(hosts.root(other))") || (strays && environment.contains { $0.hasPrefix("FERRY_ROOT=\(hosts.directory)") })
            }
        }
        #expect(eventually(20) { leftovers().isEmpty }, "processes left: \(leftovers().map { "\($0) \(commandLine(of: $0))" })", sourceLocation: sourceLocation)
        for host in 1...2 {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: hosts.root(host) + "/containers")) ?? []
            #expect(entries == (host == owner ? [name] : []), "h\(host) holds \(entries)", sourceLocation: sourceLocation)
            #expect(!FileManager.default.fileExists(atPath: hosts.root(host) + "/migrations/\(name).json"), "a journal stayed on h\(host)", sourceLocation: sourceLocation)
        }
        #expect(!FileManager.default.fileExists(atPath: hosts.root(owner) + "/containers/\(name)/migration-images"), "images stayed", sourceLocation: sourceLocation)
        let cgroups = cgroupDirectories(of: name)
        let hierarchies = Set(cgroups.map { $0.split(separator: "/").prefix(4).joined(separator: "/") })
        #expect(cgroups.count == hierarchies.count, "cgroups of two copies: \(cgroups.sorted())", sourceLocation: sourceLocation)
        let mountinfo = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
        #expect(!mountinfo.contains(hosts.root(other)), "h\(other) kept mounts", sourceLocation: sourceLocation)
    }

    /// The container's cgroup directories in every hierarchy, on every simulated host.
    static func cgroupDirectories(of name: String) -> Set<String> {
        var found = Set<String>()
        for hierarchy in (try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? [] {
            let ferry = "/sys/fs/cgroup/\(hierarchy)/ferry"
            for tag in (try? FileManager.default.contentsOfDirectory(atPath: ferry)) ?? [] where access("\(ferry)/\(tag)/\(name)", F_OK) == 0 {
                found.insert("\(ferry)/\(tag)/\(name)")
            }
        }
        return found
    }

    /// The healed host's address is usable and every host reaches every other's sshd: an
    /// address alone was not enough (the source's neighbour entry for the target, failed
    /// during the cut, made the next ssh fail with "No route to host").
    static func linkIsBack(_ namespace: String, hosts: TestHosts) throws -> Bool {
        try eventually(30) {
            let addresses = try Shell.run(["ip", "-n", namespace, "-6", "addr", "show", "dev", "br0", "scope", "global"])
            return addresses.contains("fd00:") && !addresses.contains("tentative")
        } && eventually(30) { try hosts.allReachEachOther() }
    }

    /// The CRIU a moment chose for the strike (restoreUnderWay).
    static let struckCRIU = Mutex<pid_t?>(nil)

    /// The target's restoring CRIU: a `criu swrk` under h2's ferry. The agent's hello also
    /// runs `criu --version`, which lives a few milliseconds and is not the restore.
    static func targetCRIU(_ hosts: TestHosts) -> pid_t? {
        for ferry in allProcesses() where comm(of: ferry) == "ferry" && environ(of: ferry).contains("FERRY_ROOT=\(hosts.root(2))") {
            if let criu = descendants(of: ferry).first(where: { isCRIU($0) && commandLine(of: $0).contains(" swrk") }) { return criu }
        }
        return nil
    }

    static func isCRIU(_ pid: pid_t) -> Bool {
        let comm = comm(of: pid)
        return comm.hasPrefix("criu") || (comm.hasPrefix("ld-linux") && commandLine(of: pid).contains("criu"))
    }

    static func allProcesses() -> [pid_t] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { pid_t($0) }
    }

    static func descendants(of pid: pid_t) -> [pid_t] {
        let children = ((try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)) ?? "").split(separator: " ").compactMap { pid_t($0) }
        return children + children.flatMap(descendants)
    }

    static func comm(of pid: pid_t) -> String {
        ((try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func commandLine(of pid: pid_t) -> String {
        String(decoding: (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))) ?? Data(), as: UTF8.self).replacingOccurrences(of: "\0", with: " ")
    }

    static func environ(of pid: pid_t) -> [String] {
        String(decoding: (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/environ"))) ?? Data(), as: UTF8.self).split(separator: "\0").map(String.init)
    }

    /// The state letter of /proc/PID/stat (R, S, T for stopped…).
    static func processState(_ pid: pid_t) -> String? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return nil }
        return stat[stat.index(close, offsetBy: 2)...].split(separator: " ").first.map(String.init)
    }
}
