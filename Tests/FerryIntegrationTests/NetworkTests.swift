import FerrySystem
import Foundation
import Testing

/// A container on the hosts' bridge keeps its network identity (interface, MAC, addresses)
/// and its established TCP connections through checkpoint/restore and live migration: a
/// client on a third host streams a counted byte sequence to an echo server inside and
/// checks every byte that comes back.
extension Integration {
    @Suite struct Network {
        static let address = "fd00:fe::100"
        static let ipv4 = "10.254.0.100"
        static let port = "7000"

        /// A client on one test host streaming to the container and checking the echo.
        final class Stream {
            let pid: pid_t
            let statusFile: String
            let output: String
            private var ended: Int32?

            init(from host: Int, hosts: TestHosts, scratch: Scratch, program: String) throws {
                statusFile = scratch.path("stream.status")
                output = scratch.path("stream.out")
                FileManager.default.createFile(atPath: output, contents: nil)
                let log = try OwnedFileDescriptor.open(output, O_WRONLY)
                defer { log.close() }
                pid = try Spawn.start(
                    ["nsenter", "--net=/run/netns/\(try hosts.namespace(host))", program, "stream", Network.address, Network.port, statusFile],
                    stdout: log.rawValue, stderr: log.rawValue)
            }

            /// Bytes echoed back and checked so far.
            var received: UInt64 {
                UInt64(((try? String(contentsOfFile: statusFile, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            }

            var text: String { (try? String(contentsOfFile: output, encoding: .utf8)) ?? "" }

            /// Whether bytes keep coming back: more than now, within `seconds`.
            func flows(within seconds: Double = 15) throws -> Bool {
                let now = received
                return try eventually(seconds) { ended == nil && Spawn.reapIfExited(pid) == nil && received > now + 100_000 }
            }

            /// Stops the client, which drains what is in flight; its exit status and report.
            func finish() throws -> (status: Int32, text: String) {
                kill(pid, SIGTERM)
                ended = try Spawn.wait(pid)
                return (ended ?? -1, text)
            }

            deinit {
                if ended == nil {
                    kill(pid, SIGKILL)
                    _ = try? Spawn.wait(pid)
                }
            }
        }

        /// Three test hosts; on h1 an echo server in a container on br0 (overlay root: the
        /// private area is small, the copy quick). `program` is tcpstream on the host.
        static func scene(
            _ label: String, bridge: String = "br0", _ body: (Scratch, TestHosts, _ program: String) throws -> Void
        ) throws {
            let scratch = try Scratch(label)
            defer { scratch.cleanUp() }
            let hosts = try TestHosts(scratch, count: 3)
            defer { hosts.tearDown() }
            let template = try Rootfs.busybox(in: scratch, named: "template")
            try Fixtures.installTCPStream(into: template)
            if bridge != "br0" {
                let namespace = try hosts.namespace(1)
                try Shell.run(["ip", "-n", namespace, "link", "add", bridge, "type", "bridge"])
                try Shell.run(["ip", "-n", namespace, "link", "set", bridge, "up"])
            }
            let a = hosts.ferry(1)
            try a.ok(["create", "echo", "--rootfs", template, "--overlay", "--net", "bridge:\(bridge)",
                      "--ip", "\(address)/64", "--ip", "\(ipv4)/24", "--", "/bin/tcpstream", "serve", port])
            try a.ok(["start", "echo"])
            try body(scratch, hosts, template + "/bin/tcpstream")
        }

        /// The container's interface as `ip` shows it inside: name, MAC, addresses.
        static func identity(_ ferry: HostFerry) throws -> String {
            let link = try ferry.ok(["exec", "echo", "--", "ip", "-o", "link", "show", "dev", "eth0"]).stdout
            let addresses = try ferry.ok(["exec", "echo", "--", "ip", "-o", "addr", "show", "dev", "eth0", "scope", "global"]).stdout
            let mac = link.split(separator: " ").drop { $0 != "link/ether" }.dropFirst().first.map(String.init) ?? "?"
            let inet = addresses.split(separator: "\n").compactMap { line in
                line.split(separator: " ").drop { $0 != "inet" && $0 != "inet6" }.dropFirst().first.map(String.init)
            }
            return "eth0 \(mac) \(inet.sorted().joined(separator: " "))"
        }

        /// Links of the container's host end on a host (none once it has left).
        static func hostEnds(on host: Int, _ hosts: TestHosts) throws -> [String] {
            try Shell.run(["ip", "-n", try hosts.namespace(host), "-o", "link", "show", "type", "veth"])
                .split(separator: "\n").filter { $0.contains(": fy") }.map(String.init)
        }

        /// The host's neighbour entries for the container's addresses (failed ones included).
        static func neighbours(on host: Int, _ hosts: TestHosts) throws -> [String] {
            try [address, ipv4].flatMap { address in
                try Shell.run(["ip", "-n", try hosts.namespace(host), "neigh", "show", "to", address])
                    .split(separator: "\n").map(String.init)
            }
        }

        static func ping(from host: Int, _ hosts: TestHosts, _ program: String) throws -> Bool {
            try eventually(10) { (try? Shell.run(["nsenter", "--net=/run/netns/\(try hosts.namespace(host))", program, "ping", address])) != nil }
        }

        @Test func aTCPConnectionSurvivesLiveMigrationThereAndBack() throws {
            try Self.scene("net-migrate") { scratch, hosts, program in
                let a = hosts.ferry(1)
                let b = hosts.ferry(2)
                let identity = try Self.identity(a)
                #expect(identity.contains("\(Self.address)/64") && identity.contains("\(Self.ipv4)/24"), "\(identity)")
                let status = try a.ok(["status", "echo"]).stdout
                #expect(status.contains("network: eth0 on bridge br0") && status.contains(Self.address), "\(status)")
                #expect(try Self.ping(from: 3, hosts, program), "the container does not answer ping on h1")
                let stream = try Stream(from: 3, hosts: hosts, scratch: scratch, program: program)
                #expect(try stream.flows(), "no echo before the migration: \(stream.text)")

                for (from, to) in [(a, 2), (b, 1)] {
                    let destination = to == 2 ? b : a
                    // The neighbour advertisement from the new place, seen on the third host.
                    let watcher = scratch.path("na-\(to).out")
                    FileManager.default.createFile(atPath: watcher, contents: nil)
                    let log = try OwnedFileDescriptor.open(watcher, O_WRONLY)
                    let listening = try Spawn.start(
                        ["nsenter", "--net=/run/netns/\(try hosts.namespace(3))", program, "na", Self.address, "60"],
                        stdout: log.rawValue, stderr: log.rawValue)
                    log.close()
                    #expect(try eventually { ((try? String(contentsOfFile: watcher, encoding: .utf8)) ?? "").contains("listening") })

                    // The source host itself talks to the container, so it holds a neighbour entry.
                    let left = to == 2 ? 1 : 2
                    #expect(try Self.ping(from: left, hosts, program), "h\(left) cannot reach the container")
                    #expect(try !Self.neighbours(on: left, hosts).isEmpty, "h\(left) learnt no neighbour entry of the container")
                    let migrated = try from.migrate("echo", to: to)
                    #expect(migrated.succeeded, "\(migrated.stdout) \(migrated.stderr)")
                    print("[network] to h\(to): \(migrated.stdout.split(separator: "\n").prefix(2).joined(separator: "; "))")
                    #expect(try Spawn.wait(listening) == 0, "no neighbour advertisement after the restore on h\(to)")
                    let seen = (try? String(contentsOfFile: watcher, encoding: .utf8)) ?? ""
                    #expect(seen.contains("override"), "\(seen)")
                    #expect(try stream.flows(), "the stream stopped after the migration to h\(to): \(stream.text)")
                    #expect(try Self.identity(destination) == identity, "the identity changed on h\(to)")
                    #expect(try Self.ping(from: 3, hosts, program), "the container does not answer ping on h\(to)")
                    #expect(try eventually { try Self.hostEnds(on: left, hosts).isEmpty }, "h\(left) keeps a veth of the container")
                    let kept = try Self.neighbours(on: left, hosts)
                    #expect(kept.isEmpty, "h\(left) keeps a neighbour entry of the container: \(kept)")
                    #expect(try Self.hostEnds(on: to, hosts).count == 1)
                }
                let (code, report) = try stream.finish()
                print("[network] client: \(report.trimmingCharacters(in: .whitespacesAndNewlines)) (ms)")
                #expect(code == 0, "the stream broke: \(report)")
                let numbers = report.split(separator: " ")
                #expect(numbers.count >= 4 && numbers[1] == numbers[3], "not every byte came back: \(report)")
            }
        }

        @Test func aFailedMigrationAtAnyStepKeepsTheConnectionOnTheSource() throws {
            try Self.scene("net-faults") { scratch, hosts, program in
                let a = hosts.ferry(1)
                let stream = try Stream(from: 3, hosts: hosts, scratch: scratch, program: program)
                #expect(try stream.flows(), "no echo before the migration: \(stream.text)")
                for step in ["connect", "check-target", "prepare-target", "mount-source", "presync", "checkpoint", "final-sync",
                             "send-images", "restore-target", "finish-source"] {
                    let result = try a.migrate("echo", to: 2, environment: ["FERRY_FAIL_AT": step])
                    #expect(!result.succeeded, "FERRY_FAIL_AT=\(step): the migration succeeded: \(result.stdout)")
                    #expect(try a.ok(["status", "echo"]).stdout.contains("running"), "\(step): the source does not run")
                    #expect(try stream.flows(), "\(step): the connection died on the source: \(stream.text)")
                    #expect(((try? FileManager.default.contentsOfDirectory(atPath: hosts.root(2) + "/containers")) ?? []).isEmpty, "\(step): the target holds something")
                    #expect(try eventually { try Self.hostEnds(on: 2, hosts).isEmpty }, "\(step): the target keeps a veth")
                }
                let (code, report) = try stream.finish()
                #expect(code == 0, "the stream broke: \(report)")
            }
        }

        @Test func aTargetWithoutTheBridgeIsRefusedBeforeAnythingFreezes() throws {
            try Self.scene("net-nobridge", bridge: "br1") { scratch, hosts, program in
                let a = hosts.ferry(1)
                let before = try a.ok(["status", "echo"]).stdout
                let dry = try a.migrate("echo", to: 2, ["--dry-run"])
                #expect(!dry.succeeded && dry.stderr.contains("network bridge br1"), "\(dry.stdout) \(dry.stderr)")
                let refused = try a.migrate("echo", to: 2)
                #expect(!refused.succeeded, "\(refused.stdout)")
                #expect(refused.stderr.contains("network bridge br1: source has it, target lacks it"), "\(refused.stderr)")
                // The same init, never dumped and restored.
                let status = try a.ok(["status", "echo"]).stdout
                #expect(status.contains("running") && status.split(separator: "\n").prefix(2) == before.split(separator: "\n").prefix(2), "\(before) → \(status)")
                #expect(try Self.hostEnds(on: 1, hosts).count == 1)
                #expect(((try? FileManager.default.contentsOfDirectory(atPath: hosts.root(2) + "/containers")) ?? []).isEmpty)
            }
        }

        @Test func aLocalCheckpointAndRestoreKeepTheIdentityAndTheConnection() throws {
            try Self.scene("net-local") { scratch, hosts, program in
                let a = hosts.ferry(1)
                let identity = try Self.identity(a)
                let stream = try Stream(from: 3, hosts: hosts, scratch: scratch, program: program)
                #expect(try stream.flows(), "no echo before the checkpoint: \(stream.text)")
                // Twice, with a process exec'd in between: the second dump must find it in the
                // restored tree's namespaces (the time namespace CRIU made included).
                for round in 1...2 {
                    try a.ok(["checkpoint", "echo"])
                    try a.ok(["restore", "echo"])
                    try FileManager.default.removeItem(atPath: hosts.root(1) + "/containers/echo/checkpoint")
                    #expect(try Self.identity(a) == identity, "round \(round): the identity changed")
                    #expect(try stream.flows(), "round \(round): the stream stopped: \(stream.text)")
                    try a.ok(["exec", "echo", "--", "/bin/sh", "-c", "sleep 1000 </dev/null >/dev/null 2>&1 &"])
                }
                let (code, report) = try stream.finish()
                #expect(code == 0, "the stream broke: \(report)")
            }
        }

        @Test func aMissingBridgeAtStartIsAnErrorNamingIt() throws {
            let scratch = try Scratch("net-start")
            defer { scratch.cleanUp() }
            let hosts = try TestHosts(scratch, count: 1)
            defer { hosts.tearDown() }
            let rootfs = try Rootfs.busybox(in: scratch)
            let a = hosts.ferry(1)
            try a.ok(["create", "lost", "--rootfs", rootfs, "--net", "bridge:nosuchbr", "--", "/bin/sleep", "1000"])
            let started = try a.run(["start", "lost"])
            #expect(!started.succeeded)
            #expect(started.stderr.contains("bridge nosuchbr does not exist on this host"), "\(started.stderr)")
            #expect(try a.ok(["status", "lost"]).stdout.contains("stopped"))
            #expect(try Self.hostEnds(on: 1, hosts).isEmpty)
        }
    }
}

extension HostFerry {
    /// Runs ferry on this host and requires success.
    @discardableResult
    func ok(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> Ferry.Result {
        let result = try run(arguments)
        try #require(result.succeeded, "ferry \(arguments.joined(separator: " ")) failed: \(result.stdout) \(result.stderr)", sourceLocation: sourceLocation)
        return result
    }
}
