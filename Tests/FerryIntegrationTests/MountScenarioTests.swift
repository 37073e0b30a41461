import Foundation
import Testing

/// One mount scenario, described once as data: the set-up script the container's init runs,
/// the host binds it gets, and a probe whose output must be the same after restore.
/// The driver does set-up, checkpoint, (moving binds), restore — which runs Ferry's own
/// equivalence check — and compares the probe.
struct MountScenario: Sendable, CustomTestStringConvertible {
    var name: String
    var setup: String
    var probe: String
    var hostFile: String? = nil
    var hostDirectory: String? = nil
    /// Move the bind sources to other host paths between checkpoint and restore.
    var moveBindSources = false
    var minimumMounts = 0
    var namespaces = 1
    /// Root is an overlay over the rootfs as template.
    var overlay = false
    /// Restore on a second state root: the container's directory (and so the overlay's
    /// upper and work dirs) is copied there and the template moves too.
    var relocate = false
    /// Container paths removed from the rootfs before restore: Ferry must create them again
    /// with the right type (a file for a file bind).
    var removeBeforeRestore: [String] = []

    var testDescription: String { name }

    /// Waits inside the set-up script until a file made by a background process exists.
    static func waitFor(_ file: String) -> String { "while [ ! -e \(file) ]; do sleep 0.05; done" }

    /// A background process with a mount namespace of its own, running `script` there.
    /// (busybox unshare cannot keep propagation "unchanged"; "shared" keeps /sh a peer.)
    static func background(_ script: String, propagation: String = "private", ready: String) -> String {
        "unshare -m --propagation \(propagation) sh -c '\(script); echo $$ > \(ready).pid; touch \(ready); exec sleep 100000' </dev/null >/dev/null 2>&1 &\n"
            + waitFor(ready)
    }

    static let all: [MountScenario] = [
        MountScenario(
            name: "tmpfs", setup: "mkdir -p /mnt/t && mount -t tmpfs -o size=1m,mode=700 t /mnt/t && echo data > /mnt/t/f",
            probe: "cat /mnt/t/f; stat -c %a /mnt/t"),
        MountScenario(
            name: "bind inside the container", setup: "mkdir -p /data /data2 && echo inside > /data/f && mount --bind /data /data2",
            probe: "cat /data2/f"),
        MountScenario(
            name: "host file at /etc/resolv.conf, moved, destination missing", setup: "true",
            probe: "cat /etc/resolv.conf; test -f /etc/resolv.conf && echo file",
            hostFile: "/etc/resolv.conf", moveBindSources: true, removeBeforeRestore: ["/etc/resolv.conf"]),
        MountScenario(
            name: "host directory at /run/secrets, moved", setup: "true", probe: "cat /run/secrets/token",
            hostDirectory: "/run/secrets", moveBindSources: true),
        MountScenario(
            name: "second mount namespace with its own mounts",
            setup: "mkdir -p /ns2\n" + background("mount -t tmpfs n2 /ns2 && echo two > /ns2/f", ready: "/ns2-ready"),
            probe: "cat /proc/$(cat /ns2-ready.pid)/root/ns2/f; cat /ns2/f 2>&1 || true", namespaces: 2),
        MountScenario(
            name: "peer group spanning two namespaces",
            setup: "mkdir -p /sh && mount -t tmpfs s /sh && mount --make-shared /sh\n"
                + background("true", propagation: "shared", ready: "/peer-ready"),
            probe: "mkdir -p /sh/x && mount -t tmpfs late /sh/x && touch /sh/x/here && ls /proc/$(cat /peer-ready.pid)/root/sh/x; umount /sh/x",
            namespaces: 2),
        MountScenario(
            name: "slave mount",
            setup: "mkdir -p /m /s && mount -t tmpfs m /m && mount --make-shared /m && mount --bind /m /s && mount --make-slave /s",
            probe: "mkdir -p /m/y /s/z && mount -t tmpfs late /m/y && touch /m/y/f && ls /s/y; umount /m/y; mount -t tmpfs back /s/z && ls /m/z | wc -l; umount /s/z"),
        MountScenario(
            name: "private and unbindable mounts",
            setup: "mkdir -p /p /u /tmp/ub && mount -t tmpfs p /p && mount --make-private /p && mount -t tmpfs u /u && mount --make-unbindable /u",
            probe: "mount --bind /u /tmp/ub >/dev/null 2>&1 && { echo bindable; umount /tmp/ub; } || echo unbindable"),
        MountScenario(
            name: "overmount",
            setup: "mkdir -p /o && mount -t tmpfs lower /o && mkdir /o/sub && mount -t tmpfs sub /o/sub && echo hidden > /o/sub/f && mount -t tmpfs upper /o && echo top > /o/f",
            probe: "cat /o/f; ls /o"),
        MountScenario(
            name: "overlay root, upper and work dirs at new paths",
            setup: "mkdir -p /var/app && echo written > /var/app/state", probe: "cat /var/app/state; cat /etc/hostname",
            overlay: true, relocate: true),
        MountScenario(
            name: "200 mounts over 5 namespaces",
            setup: "mkdir -p /st\n"
                + (1...4).map { n in
                    background("for i in $(seq 40); do mkdir -p /st/\(n)-$i && mount -t tmpfs s /st/\(n)-$i; done", ready: "/st-ready-\(n)")
                }.joined(separator: "\n")
                + "\nfor i in $(seq 40); do mkdir -p /st/0-$i && mount -t tmpfs s /st/0-$i; done",
            probe: "ls /st | wc -l", minimumMounts: 200, namespaces: 5),
    ]
}

extension Integration {
    @Suite struct MountScenarios {
        @Test(arguments: MountScenario.all)
        func scenarioSurvivesCheckpointAndRestore(_ scenario: MountScenario) throws {
            let scratch = try Scratch("scenario")
            defer { scratch.cleanUp() }
            let ferry = scratch.ferry
            let rootfs = try Rootfs.busybox(in: scratch)
            try (scenario.setup + "\ntouch /ready\nwhile true; do sleep 1; done\n").write(toFile: rootfs + "/setup.sh", atomically: true, encoding: .utf8)
            var arguments = ["create", "sc", "--rootfs", rootfs] + (scenario.overlay ? ["--overlay"] : [])
            var moves: [(from: String, to: String, destination: String)] = []
            if let destination = scenario.hostFile {
                let source = scratch.path("host/resolv.conf")
                try FileManager.default.createDirectory(atPath: scratch.path("host"), withIntermediateDirectories: true)
                try "nameserver 192.0.2.53\n".write(toFile: source, atomically: true, encoding: .utf8)
                arguments += ["--bind", "\(source):\(destination)"]
                moves.append((source, scratch.path("moved/resolv.conf"), destination))
            }
            if let destination = scenario.hostDirectory {
                let source = scratch.path("host/secrets")
                try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
                try "s3cret\n".write(toFile: source + "/token", atomically: true, encoding: .utf8)
                arguments += ["--bind", "\(source):\(destination):ro"]
                moves.append((source, scratch.path("moved/secrets"), destination))
            }
            try ferry.ok(arguments + ["--", "/bin/sh", "/setup.sh"])
            try ferry.ok(["start", "sc"])
            #expect(try ferry.waitFor("sc", file: "/ready"), "set-up did not finish")
            let probeBefore = try ferry.exec("sc", scenario.probe)
            let report = try ferry.ok(["mounts", "sc", "--json"]).stdout
            let entries = (try JSONSerialization.jsonObject(with: Data(report.utf8)) as? [String: Any])?["entries"] as? [[String: Any]] ?? []
            #expect(entries.count >= scenario.minimumMounts, "only \(entries.count) mounts")
            #expect(Set(entries.compactMap { $0["namespace"] as? Int }).count == scenario.namespaces)

            try ferry.ok(["checkpoint", "sc", "--to", scratch.path("images")])
            var restore = ["restore", "sc", "--from", scratch.path("images")]
            var target = ferry
            let containerDirectory = scratch.stateRoot + "/containers/sc"
            var privateRoot = containerDirectory + (scenario.overlay ? "/private/upper" : "/private/rootfs")
            if scenario.relocate {
                let other = scratch.path("state-b/containers")
                try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
                try Shell.run(["cp", "-a", containerDirectory, other + "/sc"])
                try ferry.ok(["destroy", "sc"])
                let moved = scratch.path("rootfs-moved")
                try FileManager.default.moveItem(atPath: rootfs, toPath: moved)
                restore += ["--overlay-template", moved]
                target = scratch.secondHost()
                privateRoot = other + "/sc/private/" + (scenario.overlay ? "upper" : "rootfs")
            }
            for path in scenario.removeBeforeRestore {
                try FileManager.default.removeItem(atPath: privateRoot + path)
            }
            if scenario.moveBindSources {
                try FileManager.default.createDirectory(atPath: scratch.path("moved"), withIntermediateDirectories: true)
                for move in moves {
                    try FileManager.default.moveItem(atPath: move.from, toPath: move.to)
                    restore += ["--bind-source", "\(move.destination)=\(move.to)"]
                }
            }
            try target.ok(restore)
            #expect(try target.exec("sc", scenario.probe) == probeBefore, "the probe differs after restore")
            let after = try target.ok(["mounts", "sc", "--json"]).stdout
            let afterEntries = (try JSONSerialization.jsonObject(with: Data(after.utf8)) as? [String: Any])?["entries"] as? [[String: Any]] ?? []
            #expect(afterEntries.count == entries.count)
        }
    }
}
