import FerrySystem
import Foundation
import Testing

extension Integration {
    /// `ferry migrate --postcopy`: the target's copy runs before its memory has arrived.
    @Suite struct Postcopy {
        static let pipeMaxSize = "/proc/sys/fs/pipe-max-size"

        static func pipeLimit() throws -> String {
            try String(contentsOfFile: pipeMaxSize, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        }

        @Test func aPostcopyMigrationKeepsTheMemoryIntact() throws {
            let before = try Self.pipeLimit()
            try MigrationFaults.scene("postcopy", container: "pc", command: "/bin/memhog 256", prepare: Fixtures.installMemhog) { scene in
                let (a, b, hosts) = (scene.a, scene.b, scene.hosts)
                #expect(try a.plain.waitFor("pc", file: "/memsum", seconds: 60))
                let sum = try a.plain.read("pc", "/memsum")
                let counted = try a.plain.counter("pc")

                let result = try a.migrate("pc", to: 2, ["--postcopy", "--json"])
                #expect(result.succeeded, "\(result.stderr)")
                let summary = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
                let frozen = summary?["frozenSeconds"] as? Double ?? 0
                #expect(frozen > 0, "\(result.stdout)")
                let phases = (summary?["phases"] as? [[String: Any]] ?? []).compactMap { $0["step"] as? String }
                #expect(phases.contains("await-pages"), "\(result.stdout)")

                #expect(try b.plain.counter("pc") >= counted, "the counter was reset")
                #expect(try b.plain.read("pc", "/memsum") == sum, "the memory changed on the way")
                let now = try b.plain.counter("pc")
                #expect(try eventually(20) { try b.plain.counter("pc") > now }, "the copy does not run")
                #expect(!FileManager.default.fileExists(atPath: hosts.root(1) + "/containers/pc"), "the source kept the container")
                #expect(!FileManager.default.fileExists(atPath: hosts.root(1) + "/migrations/pc.json"))
                #expect(!FileManager.default.fileExists(atPath: hosts.root(2) + "/containers/pc/images"), "the target kept the images")
                #expect(try Self.pipeLimit() == before, "fs.pipe-max-size was not put back")
            }
        }
    }
}
