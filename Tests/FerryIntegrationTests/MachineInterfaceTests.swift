import Foundation
import Testing

extension Integration {
    /// Every `--json` output, real, validated against docs/json/ferry.schema.json by a real
    /// validator (python3-jsonschema): each command's document, its failures, and the
    /// event lines of `ferry migrate --json`.
    @Suite struct MachineInterface {
        /// Runs ferry and expects its stdout to validate as `definition`; returns the result.
        @discardableResult
        static func validated(
            _ run: () throws -> Ferry.Result, as definition: String, lines: Bool = false, sourceLocation: SourceLocation = #_sourceLocation
        ) throws -> Ferry.Result {
            let result = try run()
            let violations = try JSONDocuments.violations(result.stdout, as: definition, lines: lines)
            #expect(violations.isEmpty, "not a valid '\(definition)' document: \(violations)\n\(result.stdout)\(result.stderr)", sourceLocation: sourceLocation)
            return result
        }

        @Test func everyCommandsDocumentValidates() throws {
            let scratch = try Scratch("json-documents")
            defer { scratch.cleanUp() }
            let ferry = scratch.ferry
            let rootfs = try Rootfs.busybox(in: scratch)
            try ferry.ok(["create", "js", "--rootfs", rootfs, "--memory", "64M", "--", "/bin/sh", "-c", Integration.Migration.counter])

            try Self.validated({ try ferry.run(["check", "--json"]) }, as: "check")
            let steps = try Self.validated({ try ferry.run(["migrate", "--list-steps", "--offline", "--json"]) }, as: "steps")
            #expect(steps.stdout.contains("register-target"), "\(steps.stdout)")
            // Stopped: no pid, no start time, as null.
            let stopped = try Self.validated({ try ferry.run(["status", "js", "--json"]) }, as: "status")
            let stoppedSummary = try JSONDocuments.payload(stopped.stdout, "container")
            #expect(stoppedSummary["pid"] is NSNull && stoppedSummary["startedAt"] is NSNull, "\(stopped.stdout)")
            #expect((stoppedSummary["storage"] as? [String: Any])?["kind"] as? String == "shared")
            #expect((stoppedSummary["limits"] as? [String: Any])?["memoryBytes"] as? Int == 64 << 20)

            try ferry.ok(["start", "js"])
            #expect(try ferry.waitFor("js", file: "/counter"))
            try Self.validated({ try ferry.run(["list", "--json"]) }, as: "list")
            let running = try Self.validated({ try ferry.run(["status", "js", "--json"]) }, as: "status")
            #expect(try JSONDocuments.payload(running.stdout, "container")["pid"] as? Int ?? 0 > 0)
            let mounts = try Self.validated({ try ferry.run(["mounts", "js", "--json"]) }, as: "mounts")
            #expect(try JSONDocuments.payload(mounts.stdout, "mounts")["migratable"] as? Bool == true)

            let checkpoint = try Self.validated({ try ferry.run(["checkpoint", "js", "--json"]) }, as: "checkpoint")
            #expect(checkpoint.succeeded, "\(checkpoint.stderr)")
            let dumped = try JSONDocuments.payload(checkpoint.stdout, "checkpoint")
            #expect(dumped["bytesWritten"] as? Int ?? 0 > 0 && dumped["frozenSeconds"] as? Double ?? 0 > 0, "\(checkpoint.stdout)")
            let waiting = try Self.validated({ try ferry.run(["status", "js", "--json"]) }, as: "status")
            let unused = try JSONDocuments.payload(waiting.stdout, "container")["checkpoint"] as? [String: Any]
            #expect(unused?["used"] as? Bool == false && unused?["usedBy"] is NSNull, "\(waiting.stdout)")
            let restore = try Self.validated({ try ferry.run(["restore", "js", "--json"]) }, as: "restore")
            #expect(restore.succeeded, "\(restore.stderr)")
            let restored = try JSONDocuments.payload(restore.stdout, "restore")
            let restoredPid = try statusPid(ferry, "js")
            #expect(restored["bytesRestored"] as? Int ?? 0 > 0 && restored["pid"] as? Int == restoredPid, "\(restore.stdout)")
            let served = try Self.validated({ try ferry.run(["status", "js", "--json"]) }, as: "status")
            let used = try JSONDocuments.payload(served.stdout, "container")["checkpoint"] as? [String: Any]
            #expect(used?["used"] as? Bool == true && used?["usedBy"] as? String == "restore", "\(served.stdout)")

            // Failures: a document on stdout (nothing on stderr), the usual status, nothing changed.
            let failures: [(arguments: [String], code: String, status: Int32)] = [
                (["status", "nosuch", "--json"], "notFound", 1),
                (["restore", "js", "--json"], "invalidState", 1),
                (["checkpoint", "js", "--to", "/proc/version", "--json"], "", 1),
                (["status", "--json"], "invalidArgument", 2),
                (["migrate", "js", "--json"], "invalidArgument", 2),
            ]
            let pid = try statusPid(ferry, "js")
            for failure in failures {
                let result = try Self.validated({ try ferry.run(failure.arguments) }, as: "error")
                #expect(result.status == failure.status, "\(failure.arguments): status \(result.status)")
                #expect(result.stderr.isEmpty, "\(failure.arguments) wrote to stderr: \(result.stderr)")
                let error = try JSONDocuments.payload(result.stdout, "error")
                #expect(failure.code.isEmpty || error["code"] as? String == failure.code, "\(failure.arguments): \(result.stdout)")
            }
            #expect(try statusPid(ferry, "js") == pid, "a failed command changed the container")
            // Without --json, errors stay on stderr.
            let plain = try ferry.run(["status", "nosuch"])
            #expect(plain.stdout.isEmpty && plain.stderr.hasPrefix("ferry: "), "\(plain.stdout)\(plain.stderr)")

            // An export and its import under another name.
            let archive = scratch.path("js.tar")
            let export = try Self.validated({ try ferry.run(["checkpoint", "js", "--export", archive, "--json"]) }, as: "export")
            #expect(export.succeeded, "\(export.stderr)")
            #expect(try JSONDocuments.payload(export.stdout, "export")["bytes"] as? Int ?? 0 > 0, "\(export.stdout)")
            let imported = try Self.validated({ try ferry.run(["restore", "--import", archive, "--name", "js2", "--json"]) }, as: "import")
            #expect(imported.succeeded, "\(imported.stderr)")
            #expect(try JSONDocuments.payload(imported.stdout, "import")["name"] as? String == "js2", "\(imported.stdout)")
        }

        /// `migrate --json`: every line a valid event, the phases in order, the frozen window
        /// opened inside the checkpoint step and closed inside the commit, transfers with
        /// bytes, the summary last; a failed migration ends with an error document.
        @Test func migrateStreamsValidEvents() throws {
            try MigrationFaults.scene("json-migrate", container: "ev") { scene in
                let (a, b) = (scene.a, scene.b)
                #expect(try a.plain.waitFor("ev", file: "/counter"))

                let online = try Self.validated({ try a.migrate("ev", to: 2, ["--json"]) }, as: "migrateEvent", lines: true)
                #expect(online.succeeded, "\(online.stderr)")
                let events = try JSONDocuments.events(online.stdout)
                let names = events.map { event in
                    [event["type"] as? String, event["phase"] as? String].compactMap { $0 }.joined(separator: " ")
                }
                let order = names.filter { !$0.hasPrefix("transfer") && !$0.hasPrefix("summary") }
                var expected: [String] = []
                for step in ["connect", "check-target", "prepare-target", "mount-source", "presync", "checkpoint", "final-sync", "send-images", "restore-target", "finish-source"] {
                    expected.append("phaseStarted \(step)")
                    if step == "checkpoint" { expected.append("frozenStarted") }
                    if step == "finish-source" { expected.append("frozenEnded") }
                    expected.append("phaseEnded \(step)")
                }
                #expect(order == expected, "\(names)")
                #expect(names.last == "summary", "the summary is not last: \(names)")
                let images = events.filter { $0["type"] as? String == "transfer" && $0["what"] as? String == "images" }
                #expect(!images.isEmpty && (images.last?["bytes"] as? Int ?? 0) > 0, "no image transfer reported: \(names)")
                let summary = try JSONDocuments.migrationSummary(online.stdout)
                let frozenEnded = try #require(events.first { $0["type"] as? String == "frozenEnded" })
                #expect(summary["frozenSeconds"] as? Double == frozenEnded["seconds"] as? Double)
                let phases = try #require(summary["phases"] as? [[String: Any]])
                #expect(phases.filter { $0["frozen"] as? Bool == true }.map { $0["step"] as? String ?? "" } == ["checkpoint", "final-sync", "send-images", "restore-target", "finish-source"])
                #expect(try eventually { try b.plain.counter("ev") > 0 })

                // A failure after the freeze: events up to it (the source resumes), then the error.
                let failed = try b.migrate("ev", to: 1, ["--json"], environment: ["FERRY_FAIL_AT": "send-images"])
                #expect(failed.status == 1, "\(failed.stdout)\(failed.stderr)")
                var lines = failed.stdout.split(separator: "\n").map(String.init)
                let lastLine = lines.popLast()
                let last = try #require(lastLine, "no output: \(failed.stderr)")
                #expect(try JSONDocuments.violations(lines.joined(separator: "\n"), as: "migrateEvent", lines: true).isEmpty, "\(failed.stdout)")
                #expect(try JSONDocuments.violations(last, as: "error").isEmpty, "\(last)")
                #expect((try JSONDocuments.payload(last, "error")["message"] as? String ?? "").contains("send-images"), "\(last)")
                let failedEvents = try JSONDocuments.events(lines.joined(separator: "\n")).compactMap { $0["type"] as? String }
                #expect(failedEvents.contains("frozenStarted") && !failedEvents.contains("summary"), "\(failedEvents)")
                #expect(try b.plain.ok(["status", "ev"]).stdout.contains("running"), "the source did not resume")

                // Offline: nothing is frozen, so no frozen window and a null downtime.
                try b.plain.ok(["stop", "ev", "--timeout", "0"])
                let offline = try Self.validated({ try b.migrate("ev", to: 1, ["--offline", "--json"]) }, as: "migrateEvent", lines: true)
                #expect(offline.succeeded, "\(offline.stderr)")
                let offlineTypes = try JSONDocuments.events(offline.stdout).compactMap { $0["type"] as? String }
                #expect(!offlineTypes.contains("frozenStarted") && !offlineTypes.contains("frozenEnded"), "\(offlineTypes)")
                let offlineSummary = try JSONDocuments.migrationSummary(offline.stdout)
                #expect(offlineSummary["frozenSeconds"] is NSNull && offlineSummary["mode"] as? String == "offline")

                // For an admin (stderr not a terminal here): phases in words and the frozen window
                // on stderr, one line each; the summary on stdout, its frozen phases marked.
                try a.plain.ok(["start", "ev"])
                #expect(try a.plain.waitFor("ev", file: "/counter"))
                let human = try a.migrate("ev", to: 2)
                #expect(human.succeeded, "\(human.stderr)")
                let stderrLines = human.stderr.split(separator: "\n").map(String.init)
                let checkpointing = stderrLines.firstIndex(of: "» checkpointing the container")
                let frozen = stderrLines.firstIndex { $0.hasPrefix("■ frozen from here") }
                let thawed = stderrLines.firstIndex { $0.hasPrefix("■ frozen window over") }
                #expect(checkpointing != nil && frozen != nil && thawed != nil, "\(human.stderr)")
                #expect((checkpointing ?? 0) < (frozen ?? 0) && (frozen ?? 0) < (thawed ?? 0), "\(human.stderr)")
                #expect(!human.stderr.contains("\r") && !human.stderr.contains("xfr#") && !human.stderr.contains("to-chk"), "rsync's own output leaked: \(human.stderr)")
                #expect(human.stdout.contains("frozen (downtime)") && human.stdout.contains("* checkpoint") && human.stdout.contains("      connect"), "\(human.stdout)")
            }
        }
    }
}
