import Foundation
import Testing

/// One mount scenario in zdtm's shape, described once as data: what it needs, the set-up
/// script the container's init runs, the host binds it gets, a probe whose output must be
/// the same afterwards, and the expected outcome. The driver runs every row in each
/// flavour: set-up → checkpoint/restore (locally, relocated, or a live migration) → verify,
/// where the restore runs Ferry's own mount-tree equivalence check.
struct MountScenario: Sendable, CustomTestStringConvertible {
    var name: String
    /// What the host must offer; a missing need fails the test with its name (CI has all).
    var needs: [Need] = []
    var setup: String
    var probe: String
    var hostFile: String? = nil
    var hostDirectory: String? = nil
    /// Local flavour: move the bind sources to other host paths before the restore.
    var moveBindSources = false
    var minimumMounts = 0
    var namespaces = 1
    /// Root is an overlay over the rootfs as template.
    var overlay = false
    /// Container paths removed from the rootfs before a local or relocated restore: Ferry
    /// must create them again with the right type (a file for a file bind).
    var removeBeforeRestore: [String] = []
    var expected: Outcome = .restored

    enum Need: Sendable, Equatable {
        /// A filesystem type the kernel must know (/proc/filesystems).
        case filesystem(String)
    }

    enum Outcome: Sendable, Equatable {
        case restored
        /// Refused before anything freezes, with a message containing this text.
        case blocked(String)
    }

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
            name: "file bind onto a file made inside the container",
            setup: "mkdir -p /a /b && echo inside > /a/file && echo covered > /b/file && mount --bind /a/file /b/file",
            probe: "cat /b/file; test -f /b/file && echo file"),
        MountScenario(
            name: "host file at /etc/resolv.conf, moved, destination missing", setup: "true",
            probe: "cat /etc/resolv.conf; test -f /etc/resolv.conf && echo file",
            hostFile: "/etc/resolv.conf", moveBindSources: true, removeBeforeRestore: ["/etc/resolv.conf"]),
        MountScenario(
            name: "host directory at /run/secrets, moved", setup: "true", probe: "cat /run/secrets/token",
            hostDirectory: "/run/secrets", moveBindSources: true),
        MountScenario(
            name: "bind of a --bind made inside the container",
            setup: "mkdir -p /mnt/again && mount --bind /run/secrets /mnt/again",
            probe: "cat /mnt/again/token; [ $(stat -c %d /mnt/again/token) = $(stat -c %d /run/secrets/token) ] && echo one superblock",
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
            name: "overlay root", setup: "mkdir -p /var/app && echo written > /var/app/state", probe: "cat /var/app/state; cat /etc/hostname",
            overlay: true),
        MountScenario(
            name: "overlay mounted inside the container", needs: [.filesystem("overlay")],
            setup: "mkdir -p /ov/l /ov/u /ov/w /ov/m && mount -t tmpfs ov /ov && mkdir -p /ov/l /ov/u /ov/w /ov/m && mount -t overlay o -o lowerdir=/ov/l,upperdir=/ov/u,workdir=/ov/w /ov/m",
            probe: "ls /ov", expected: .blocked("an overlay mounted inside the container is not supported yet")),
        MountScenario(
            name: "200 mounts over 5 namespaces",
            setup: "mkdir -p /st\n"
                + (1...4).map { n in
                    background("for i in $(seq 40); do mkdir -p /st/\(n)-$i && mount -t tmpfs s /st/\(n)-$i; done", ready: "/st-ready-\(n)")
                }.joined(separator: "\n")
                + "\nfor i in $(seq 40); do mkdir -p /st/0-$i && mount -t tmpfs s /st/0-$i; done",
            probe: "ls /st | wc -l", minimumMounts: 200, namespaces: 5),
    ]

    /// How the checkpointed container comes back.
    enum Flavour: String, Sendable, CaseIterable, CustomTestStringConvertible {
        /// `ferry checkpoint` then `ferry restore` on the same state root.
        case local
        /// The container's directory copied to a second state root, the original destroyed,
        /// the template and every bind source moved: restore with the remapping options.
        case relocated
        /// `ferry migrate --online` to a second test host.
        case migrated

        var testDescription: String { rawValue }
    }
}

extension Integration {
    @Suite struct MountScenarios {
        @Test(arguments: MountScenario.all, MountScenario.Flavour.allCases)
        func scenario(_ scenario: MountScenario, _ flavour: MountScenario.Flavour) throws {
            for case .filesystem(let type) in scenario.needs {
                let known = try String(contentsOfFile: "/proc/filesystems", encoding: .utf8)
                try #require(known.split(separator: "\n").contains { $0.split(separator: "\t").last.map(String.init) == type }, "needs filesystem \(type)")
            }
            let scratch = try Scratch("scenario")
            defer { scratch.cleanUp() }
            var hosts: TestHosts?
            defer { hosts?.tearDown() }
            if flavour == .migrated { hosts = try TestHosts(scratch) }
            let source = hosts.map { Ferry(root: $0.root(1)) } ?? scratch.ferry
            let rootfs = try Rootfs.busybox(in: scratch)
            try (scenario.setup + "\ntouch /ready\nwhile true; do sleep 1; done\n").write(toFile: rootfs + "/setup.sh", atomically: true, encoding: .utf8)
            var arguments = ["create", "sc", "--rootfs", rootfs] + (scenario.overlay ? ["--overlay"] : [])
            var moves: [(from: String, to: String, destination: String)] = []
            try FileManager.default.createDirectory(atPath: scratch.path("host"), withIntermediateDirectories: true)
            if let destination = scenario.hostFile {
                let path = scratch.path("host/resolv.conf")
                try "nameserver 192.0.2.53\n".write(toFile: path, atomically: true, encoding: .utf8)
                arguments += ["--bind", "\(path):\(destination)"]
                moves.append((path, scratch.path("moved/resolv.conf"), destination))
            }
            if let destination = scenario.hostDirectory {
                let path = scratch.path("host/secrets")
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
                try "s3cret\n".write(toFile: path + "/token", atomically: true, encoding: .utf8)
                arguments += ["--bind", "\(path):\(destination):ro"]
                moves.append((path, scratch.path("moved/secrets"), destination))
            }
            try source.ok(arguments + ["--", "/bin/sh", "/setup.sh"])
            try source.ok(["start", "sc"])
            #expect(try source.waitFor("sc", file: "/ready"), "set-up did not finish")
            let probeBefore = try source.exec("sc", scenario.probe)
            let entries = try Self.reportEntries(source)
            #expect(entries.count >= scenario.minimumMounts, "only \(entries.count) mounts")
            #expect(Set(entries.compactMap { $0["namespace"] as? Int }).count == scenario.namespaces)

            if case .blocked(let reason) = scenario.expected {
                let refused = try hosts.map { try $0.ferry(1).migrate("sc", to: 2) } ?? source.run(["checkpoint", "sc", "--to", scratch.path("images")])
                #expect(!refused.succeeded && refused.stderr.contains(reason), "expected a refusal naming '\(reason)': \(refused.stderr)")
                let report = try source.run(["mounts", "sc"])
                #expect(!report.succeeded && report.stdout.contains(reason), "ferry mounts does not say '\(reason)': \(report.stdout)")
                #expect(try source.exec("sc", scenario.probe) == probeBefore, "the container does not run on after the refusal")
                return
            }

            let target: Ferry
            switch flavour {
            case .local, .relocated:
                try source.ok(["checkpoint", "sc", "--to", scratch.path("images")])
                var restore = ["restore", "sc", "--from", scratch.path("images")]
                let containerDirectory = scratch.stateRoot + "/containers/sc"
                var privateRoot = containerDirectory + (scenario.overlay ? "/private/upper" : "/private/rootfs")
                var moveBinds = scenario.moveBindSources
                if flavour == .relocated {
                    let other = scratch.path("state-b/containers")
                    try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
                    try Shell.run(["cp", "-a", containerDirectory, other + "/sc"])
                    try source.ok(["destroy", "sc"])
                    if scenario.overlay {
                        let moved = scratch.path("rootfs-moved")
                        try FileManager.default.moveItem(atPath: rootfs, toPath: moved)
                        restore += ["--overlay-template", moved]
                    }
                    target = scratch.secondHost()
                    privateRoot = other + "/sc/private/" + (scenario.overlay ? "upper" : "rootfs")
                    moveBinds = true
                } else {
                    target = source
                }
                for path in scenario.removeBeforeRestore {
                    try FileManager.default.removeItem(atPath: privateRoot + path)
                }
                if moveBinds && !moves.isEmpty {
                    try FileManager.default.createDirectory(atPath: scratch.path("moved"), withIntermediateDirectories: true)
                    for move in moves {
                        try FileManager.default.moveItem(atPath: move.from, toPath: move.to)
                        restore += ["--bind-source", "\(move.destination)=\(move.to)"]
                    }
                }
                try target.ok(restore)
            case .migrated:
                let hosts = try #require(hosts)
                let result = try hosts.ferry(1).migrate("sc", to: 2, ["--online"])
                #expect(result.succeeded, "migration failed: \(result.stderr)")
                target = Ferry(root: hosts.root(2))
            }
            #expect(try target.exec("sc", scenario.probe) == probeBefore, "the probe differs after the \(flavour) restore")
            #expect(try Self.reportEntries(target).count == entries.count)
        }

        static func reportEntries(_ ferry: Ferry) throws -> [[String: Any]] {
            let report = try ferry.ok(["mounts", "sc", "--json"]).stdout
            return try JSONDocuments.payload(report, "mounts")["entries"] as? [[String: Any]] ?? []
        }
    }
}
