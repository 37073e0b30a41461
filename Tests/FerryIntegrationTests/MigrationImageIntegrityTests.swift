import FerrySystem
import Foundation
import Testing

extension Integration.MigrationFaults {
    /// A migration's memory crosses on the image stream, under an HMAC taken in the same pass
    /// as the transfer; the other images are known by sha256, and the page images the
    /// target wrote by size once the MAC checked out. Damage on the way or at rest on the
    /// target is refused before its restore, and the source runs on.
    @Suite struct ImageIntegrity {
        typealias Faults = Integration.MigrationFaults

        /// Held just before the target restores, one image there is damaged.
        static func damagedAtTheTarget(_ label: String, damage: (String) throws -> String) throws {
            try Faults.scene(label, container: "img", command: "/bin/memhog 32", prepare: { try Fixtures.installMemhog(into: $0) }) { scene in
                #expect(try scene.a.plain.waitFor("img", file: "/counter", seconds: 60))
                let sum = try scene.a.plain.read("img", "/memsum")
                let (migrate, output) = try scene.startMigration(environment: ["FERRY_FAIL_AT": "restore-target:hold"])
                defer { if Spawn.reapIfExited(migrate) == nil { kill(migrate, SIGKILL); _ = try? Spawn.wait(migrate) } }
                #expect(try eventually(90) { Faults.processState(migrate) == "T" })
                let images = scene.hosts.root(2) + "/containers/.img.incoming/images"
                let damaged = try damage(images)
                kill(migrate, SIGCONT)
                let status = try Spawn.wait(migrate)
                let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
                #expect(status == 1, "exit \(status): \(text)")
                #expect(text.contains("\(damaged) is") && text.contains("runs on the source and the target was cleaned"), "\(text)")
                try scene.expectRunsOnSourceAgain(countedAtLeast: 0)
                #expect(try scene.a.plain.read("img", "/memsum") == sum)
            }
        }

        static func largest(_ directory: String, prefix: String) throws -> String {
            let names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix(prefix) }
            return try #require(names.max { (fileSize("\(directory)/\($0)")) < (fileSize("\(directory)/\($1)")) }, "no \(prefix)* in \(directory)")
        }

        static func fileSize(_ path: String) -> Int {
            ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
        }

        @Test func aTruncatedPageImageIsRefusedBeforeTheRestore() throws {
            try Self.damagedAtTheTarget("migrate-truncated-pages") { images in
                let pages = try Self.largest(images, prefix: "pages-")
                #expect(truncate("\(images)/\(pages)", off_t(Self.fileSize("\(images)/\(pages)") / 2)) == 0)
                return pages
            }
        }

        /// The stream's bytes damaged on the way, or the stream cut short: FERRY_FAIL_AT flips
        /// one byte of the first page block after its MAC was taken, or ends the connection
        /// after that block (only the sender can strike at a chosen byte).
        static func damagedOnTheWay(_ label: String, _ damage: String, expect: String) throws {
            try Faults.scene(label, container: "img", command: "/bin/memhog 32", prepare: { try Fixtures.installMemhog(into: $0) }) { scene in
                #expect(try scene.a.plain.waitFor("img", file: "/counter", seconds: 60))
                let sum = try scene.a.plain.read("img", "/memsum")
                let (migrate, output) = try scene.startMigration(environment: ["FERRY_FAIL_AT": "image-stream:\(damage)"])
                defer { if Spawn.reapIfExited(migrate) == nil { kill(migrate, SIGKILL); _ = try? Spawn.wait(migrate) } }
                let status = try Spawn.wait(migrate)
                let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
                #expect(status == 1, "exit \(status): \(text)")
                #expect(text.contains(expect) && text.contains("runs on the source and the target was cleaned"), "\(text)")
                try scene.expectRunsOnSourceAgain(countedAtLeast: 0)
                #expect(try scene.a.plain.read("img", "/memsum") == sum)
            }
        }

        /// The dump completed and the source's tasks wait, frozen: the target's MAC check
        /// refuses the stream and the source thaws, its memory intact.
        @Test func aCorruptedPageStreamIsRefusedAndTheSourceRunsOn() throws {
            try Self.damagedOnTheWay("migrate-corrupt-stream", "corrupt", expect: "MAC does not match")
        }

        /// The target's page server fails on a stream cut short, CRIU's dump with it, and the
        /// source's tasks, never killed, run on.
        @Test func aTruncatedPageStreamFailsTheDumpAndTheSourceRunsOn() throws {
            try Self.damagedOnTheWay("migrate-truncated-stream", "truncate", expect: "CRIU dump failed")
        }

        @Test func aCorruptedCoreImageIsRefusedBeforeTheRestore() throws {
            try Self.damagedAtTheTarget("migrate-corrupt-core") { images in
                let core = try Self.largest(images, prefix: "core-")
                let handle = try FileHandle(forUpdating: URL(fileURLWithPath: "\(images)/\(core)"))
                let middle = UInt64(Self.fileSize("\(images)/\(core)") / 2)
                try handle.seek(toOffset: middle)
                let byte = try handle.read(upToCount: 1) ?? Data([0])
                try handle.seek(toOffset: middle)
                try handle.write(contentsOf: Data([byte[0] ^ 0xff]))
                try handle.close()
                return core
            }
        }
    }
}
