import FerrySystem
import Foundation
import Testing

extension Integration {
    /// The frozen-phase sync sends what changed since the tracker started (issue 13): held
    /// just before the target restores, the target's private area equals the frozen
    /// source's, file by file, though the container kept changing, creating, renaming and
    /// deleting files through the live pre-sync until the freeze.
    @Suite struct FrozenSync {
        typealias Faults = Integration.MigrationFaults

        /// Files that exist before the migration and change during it, files created,
        /// renamed and deleted, directories created, renamed whole and deleted with what
        /// they hold, modes changed; without pause until the freeze. /tmp holds a file from
        /// the start: CRIU makes and removes a directory there while it dumps (after the
        /// freeze and the drain), which on an overlay root would copy /tmp up, a change of
        /// CRIU's, not the container's, that no sync beside the dump can promise to see.
        static let churn = """
            touch /tmp/.churn; mkdir -p /data/keep /data/tree/a/b; i=0; while [ $i -lt 40 ]; do echo $i > /data/keep/f$i; i=$((i+1)); done
            echo t > /data/tree/a/b/t; i=0
            while true; do i=$((i+1)); echo $i > /counter; echo $i >> /data/keep/f$((i % 40))
            echo n$i > /data/new$i; mv /data/new$i /data/renamed$i; rm -f /data/renamed$((i - 5))
            mkdir -p /data/d$i/sub; echo x$i > /data/d$i/sub/f; mv /data/d$i /data/moved$i; rm -rf /data/moved$((i - 3))
            chmod $((600 + i % 2 * 40)) /data/keep/f$((i % 7)); [ $i = 30 ] && mv /data/tree /data/tree2
            sleep 0.02; done
            """

        /// Every entry under `area` with its type, mode, size, owner, link target and link
        /// count, and every regular file's checksum (a directory's size is its history).
        static func listing(_ area: String) throws -> String {
            try Shell.run(["sh", "-c", "cd '\(area)' && find . \\( -type d -printf '%P|d|%m|%U:%G|%n\\n' \\) -o -printf '%P|%y|%m|%s|%U:%G|%l|%n\\n' | sort && find . -type f -print0 | sort -z | xargs -0 sha256sum"])
        }

        /// The source's area as the dump left it. An insulated area whose tasks died at the
        /// dump is unmounted by then (the host side is torn down): its image is read, mounted
        /// read-only for the listing.
        static func frozenSourceListing(_ directory: String, scratch: Scratch) throws -> String {
            let image = directory + "/private.img"
            guard FileManager.default.fileExists(atPath: image), !isMountPoint(directory + "/private") else { return try listing(directory + "/private") }
            let mountPoint = scratch.path("source-image")
            try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
            try Shell.run(["mount", "-o", "ro,loop,noload", image, mountPoint])
            defer { _ = try? Shell.run(["umount", mountPoint]) }
            return try listing(mountPoint)
        }

        /// Migrates `name` (created with `options`, running `command`) held before the
        /// target's restore, compares both areas, lets it finish; returns ferry's output.
        static func migrateAndCompare(
            _ label: String, options: [String] = [], command: String, prepare: (String) throws -> Void = { _ in }, faults: [String] = []
        ) throws -> String {
            var text = ""
            try Faults.scene(label, container: "churn", command: command, options: options, prepare: prepare) { scene in
                #expect(try scene.a.plain.waitFor("churn", file: "/counter"))
                let failAt = (faults + ["restore-target:hold"]).joined(separator: ",")
                let (migrate, output) = try scene.startMigration(["--verbose"], environment: ["FERRY_FAIL_AT": failAt])
                defer { if Spawn.reapIfExited(migrate) == nil { kill(migrate, SIGKILL); _ = try? Spawn.wait(migrate) } }
                let held = try eventually(120) { Faults.processState(migrate) == "T" || Spawn.reapIfExited(migrate) != nil }
                try #require(held && Faults.processState(migrate) == "T", "the migration never reached the restore: \((try? String(contentsOfFile: output, encoding: .utf8)) ?? "")")
                let source = try frozenSourceListing(scene.hosts.root(1) + "/containers/churn", scratch: scene.scratch)
                let target = try listing(scene.hosts.root(2) + "/containers/.churn.incoming/private")
                #expect(source.contains("data/keep/f39|f"), "the area holds no workload: \(source.prefix(500))")
                let (sourceLines, targetLines) = (Set(source.split(separator: "\n")), Set(target.split(separator: "\n")))
                let differences = "only on the source \(sourceLines.subtracting(targetLines).sorted()), only on the target \(targetLines.subtracting(sourceLines).sorted())"
                #expect(source == target, "the target's private area differs from the frozen source's: \(differences)")
                kill(migrate, SIGCONT)
                let status = try Spawn.wait(migrate)
                text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
                #expect(status == 0, "exit \(status): \(text)")
                let now = try scene.b.plain.counter("churn")
                #expect(try eventually { try scene.b.plain.counter("churn") > now }, "the container does not run on the target")
            }
            return text
        }

        @Test(arguments: [("shared", [String]()), ("insulated", ["--storage", "insulated", "--image", "128M"]), ("overlay", ["--overlay"])])
        func theFrozenSyncSendsWhatChanged(_ storage: String, _ options: [String]) throws {
            let output = try Self.migrateAndCompare("frozen-sync-\(storage)", options: options, command: Self.churn)
            #expect(output.contains("the frozen-phase sync sends the paths that changed"), "\(output)")
            #expect(!output.contains("copies the whole private area"), "\(output)")
        }

        /// A file written through a shared mapping changes with no event and, its pages
        /// dirtied again before any writeback, with no new time: it is named as changed all
        /// the same, and arrives as it was at the freeze.
        @Test(arguments: [("shared", [String]()), ("insulated", ["--storage", "insulated", "--image", "128M"])])
        func aFileWrittenThroughASharedMappingIsSent(_ storage: String, _ options: [String]) throws {
            let command = "mkdir -p /data; /bin/mapwriter /data/mapped & until [ -e /data/mapped.ready ]; do sleep 0.05; done; " + Self.churn
            let output = try Self.migrateAndCompare("frozen-sync-mmap-\(storage)", options: options, command: command, prepare: { try Fixtures.installMapWriter(into: $0) })
            #expect(output.contains("the frozen-phase sync sends the paths that changed"), "\(output)")
        }

        /// A tracker in doubt (here an overflow injected at the drain) falls back to the
        /// whole area, exactly.
        @Test func anOverflowCopiesTheWholeArea() throws {
            let output = try Self.migrateAndCompare("frozen-sync-overflow", command: Self.churn, faults: ["change-tracker:overflow"])
            #expect(output.contains("copies the whole private area") && output.contains("overflowed"), "\(output)")
        }
    }
}
