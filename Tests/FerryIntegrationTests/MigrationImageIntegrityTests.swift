import FerrySystem
import Foundation
import Testing

extension Integration.MigrationFaults {
    /// A migration's images are known by sha256, but for CRIU's memory pages, which cross
    /// under rsync's whole-file checksum and are known by size (no second pass over them
    /// in the frozen window). Damage found at the target is refused before its restore and
    /// the source runs on.
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
