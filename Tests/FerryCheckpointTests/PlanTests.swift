import FerryCheckpoint
import FerryCRIU
import FerryContainers
import FerryMounts
import Foundation
import Testing

/// The checkpoint and restore plans built from a capture, without a running container.
@Suite struct PlanTests {
    static let tree = """
        100 50 8:1 /c/rootfs / rw - ext4 /dev/sda1 rw
        101 100 0:40 / /proc rw - proc proc rw
        103 100 8:1 /srv/secrets /run/secrets ro - ext4 /dev/sda1 rw
        104 100 8:1 /srv/resolv.conf /etc/resolv.conf rw - ext4 /dev/sda1 rw
        105 100 8:1 /srv/secrets /mnt/again ro - ext4 /dev/sda1 rw
        106 100 8:1 /c/rootfs/a/file /b/file rw - ext4 /dev/sda1 rw
        107 100 0:41 / /mnt/t rw - tmpfs t rw
        """

    static func config(binds: [BindMount]) throws -> ContainerConfig {
        ContainerConfig(name: try ContainerName("web"), storage: .shared, binds: binds)
    }

    static let binds = [
        BindMount(source: "/etc", destination: "/run/secrets", readOnly: true),
        BindMount(source: "/etc/hostname", destination: "/etc/resolv.conf", readOnly: false),
    ]

    static func capture(declared: [String]) throws -> MountTreeCapture {
        MountTreeCapture(
            hostRoot: "/c/rootfs",
            namespaces: [MountNamespaceCapture(inode: 1, containerPids: [1], mounts: try MountInfoParser.parse(tree), fileMounts: [104, 106])],
            declaredBinds: declared)
    }

    @Test func externalsAreTheDeclaredBindsAtTheirDestinations() throws {
        let plan = CheckpointPlan(capture: try Self.capture(declared: Self.binds.map(\.destination)), config: try Self.config(binds: Self.binds))
        #expect(plan.blockers.isEmpty)
        #expect(plan.externals.map(\.containerPath) == ["/run/secrets", "/etc/resolv.conf"])
        #expect(plan.externals.map(\.isDirectory) == [true, false])
        // The copy made inside is restored by CRIU as a bind of the external: no key.
        #expect(plan.dumpExternals == ["mnt[/run/secrets]:ferry-bind-0", "mnt[/etc/resolv.conf]:ferry-bind-1"])
    }

    /// `ferry mounts` and `ferry checkpoint` read the same plan: an undeclared host mount
    /// is a blocker in the report and the same reason in the refusal.
    @Test func anUndeclaredHostMountBlocksWithOneReason() throws {
        let binds = [Self.binds[0]]
        let plan = CheckpointPlan(capture: try Self.capture(declared: binds.map(\.destination)), config: try Self.config(binds: binds))
        #expect(plan.blockers.map(\.mountPoint) == ["/etc/resolv.conf"])
        let reason = try #require(plan.blockers.first?.verdict.reason)
        #expect(throws: (any Error).self) { try plan.refuseIfBlocked("checkpoint", try ContainerName("web")) }
        do {
            try plan.refuseIfBlocked("checkpoint", try ContainerName("web"))
        } catch {
            #expect(error.message.contains(reason))
            #expect(error.message.contains("ferry mounts web"))
        }
    }

    /// Mount points are re-created with the type of what was mounted there: a file bind
    /// made inside the container onto a file needs a file, not a directory.
    @Test func restoreDestinationsKeepTheirType() throws {
        let capture = try Self.capture(declared: Self.binds.map(\.destination))
        let config = try Self.config(binds: Self.binds)
        let checkpoint = CheckpointPlan(capture: capture, config: config)
        let manifest = CheckpointManifest(
            format: CheckpointManifest.currentFormat, container: config, createdAt: Date(), mounts: capture,
            externals: checkpoint.externals, stats: .init(), checksums: [:])
        let plan = try RestorePlan(manifest: manifest, imagesDirectory: "/images", config: config, layout: ContainerLayout(directory: "/c"))
        let kinds = Dictionary(uniqueKeysWithValues: plan.destinations.map { ($0.path, $0.isFile) })
        #expect(kinds == ["/proc": false, "/run/secrets": false, "/etc/resolv.conf": true, "/mnt/again": false, "/b/file": true, "/mnt/t": false])
        #expect(plan.externals == ["mnt[ferry-bind-0]:/etc", "mnt[ferry-bind-1]:/etc/hostname"])
    }
}
