import Foundation
import Testing

extension Integration {
    @Suite struct ContainerLifecycle {
        static let counter = "i=0; while true; do i=$((i+1)); echo $i > /counter; sleep 0.1; done"

        @Test func busyboxCounterRunsInItsOwnNamespaces() throws {
            let scratch = try Scratch("lifecycle")
            defer { scratch.cleanUp() }
            let ferry = scratch.ferry
            let rootfs = try Rootfs.busybox(in: scratch)
            try ferry.ok(["create", "c1", "--rootfs", rootfs, "--hostname", "counter-box", "--", "/bin/sh", "-c", Self.counter])
            try ferry.ok(["start", "c1"])

            let first = Int(try ferry.exec("c1", "cat /counter").trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
            #expect(try eventually {
                let now = Int(try ferry.exec("c1", "cat /counter").trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
                return now > first
            }, "the counter does not advance")
            #expect(try ferry.exec("c1", "cat /proc/1/cmdline | tr '\\0' ' '").contains("while true"), "pid 1 is not the container's init")
            #expect(try ferry.exec("c1", "hostname") == "counter-box\n")
            #expect(try ferry.exec("c1", "ls /sys/class/net") == "lo\n", "the network namespace has more than lo")
            #expect(try ferry.exec("c1", "cat /sys/class/net/lo/operstate").contains("unknown"), "lo is not up")

            // The init's host pid is in another pid namespace than ours, and its init is pid 1 there.
            let status = try ferry.ok(["status", "c1", "--json"]).stdout
            let pid = try #require(try JSONDocuments.payload(status, "container")["pid"] as? Int)
            let ownNamespace = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/pid")
            let containerNamespace = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/pid")
            #expect(ownNamespace != containerNamespace)
            for ns in ["mnt", "uts", "ipc", "net"] {
                #expect(
                    try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/\(ns)")
                        != FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/\(ns)"),
                    "container shares the host's \(ns) namespace")
            }
            let list = try ferry.ok(["list"]).stdout
            #expect(list.contains("c1") && list.contains("running"))
        }

        @Test func stopAndDestroyLeaveTheHostAsItWas() throws {
            let scratch = try Scratch("cleanup")
            defer { scratch.cleanUp() }
            let ferry = scratch.ferry
            let rootfs = try Rootfs.busybox(in: scratch)
            let hostFile = scratch.path("resolv.conf")
            try "nameserver 192.0.2.1\n".write(toFile: hostFile, atomically: true, encoding: .utf8)
            try ferry.ok(["create", "c2", "--rootfs", rootfs, "--overlay", "--bind", "\(hostFile):/etc/resolv.conf", "--", "/bin/sh", "-c", Self.counter])
            // The state root exists now; take the snapshot after that so only the container differs.
            let before = try HostSnapshot.take()
            let processesBefore = HostProcesses.live()

            try ferry.ok(["start", "c2"])
            #expect(try ferry.exec("c2", "echo ok") == "ok\n")
            let pid = try statusPid(ferry, "c2")
            let namespace = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/pid")
            // A background process in its own mount namespace must die with the container.
            _ = try ferry.exec("c2", "unshare -m sleep 1000 </dev/null >/dev/null 2>&1 &")
            #expect(HostProcesses.inPidNamespace(namespace).count >= 3)
            #expect(try HostSnapshot.take() != before, "starting mounted nothing on the host")

            try ferry.ok(["stop", "c2"])
            try ferry.ok(["destroy", "c2"])

            #expect(try HostSnapshot.take() == before, "the host mount table differs after stop and destroy")
            #expect(HostProcesses.inPidNamespace(namespace).isEmpty, "processes of the container survived")
            // Container processes are caught by their pid namespace above; here, the monitor.
            // (Other programs on the machine may start meanwhile, so only ferry's count.)
            let leftovers = HostProcesses.live().subtracting(processesBefore).filter { $0.command.hasPrefix("ferry") }
            #expect(leftovers.isEmpty, "processes left behind: \(leftovers)")
            let remaining = try FileManager.default.subpathsOfDirectory(atPath: scratch.stateRoot)
            #expect(Set(remaining) == ["containers", "templates"], "state root still holds \(remaining)")
            #expect(!(try ferry.run(["status", "c2"]).succeeded))
        }

        @Test func hooksRunAroundThePrivateAreaMount() throws {
            let scratch = try Scratch("hooks")
            defer { scratch.cleanUp() }
            let ferry = scratch.ferry
            let rootfs = try Rootfs.busybox(in: scratch)
            let log = scratch.path("hooks.log")
            for hook in ["premount", "postumount"] {
                let script = scratch.path("\(hook).sh")
                try "#!/bin/sh\necho \"$FERRY_HOOK $FERRY_NAME\" >> \(log)\n".write(toFile: script, atomically: true, encoding: .utf8)
                chmod(script, 0o755)
            }
            try ferry.ok([
                "create", "h1", "--rootfs", rootfs, "--premount-hook", scratch.path("premount.sh"),
                "--postumount-hook", scratch.path("postumount.sh"), "--", "/bin/sh", "-c", "sleep 1000",
            ])
            try ferry.ok(["start", "h1"])
            try ferry.ok(["stop", "h1", "--timeout", "0"])
            #expect(try String(contentsOfFile: log, encoding: .utf8) == "premount h1\npostumount h1\n")
        }
    }
}

/// The init's host pid from `ferry status --json`.
func statusPid(_ ferry: Ferry, _ name: String) throws -> Int {
    let status = try ferry.ok(["status", name, "--json"]).stdout
    return try #require(try JSONDocuments.payload(status, "container")["pid"] as? Int)
}
