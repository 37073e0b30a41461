import Foundation
import Testing

extension Integration {
    @Suite struct HostCheck {
        @Test func reportsCriu4AndCriuCheckOK() throws {
            let scratch = try Scratch("check")
            defer { scratch.cleanUp() }
            let result = try scratch.ferry.run(["check", "--json"])
            let report = try JSONDocuments.payload(result.stdout, "check")
            let version = try #require(report["criuVersion"] as? String, "no CRIU version: \(result.stdout)")
            #expect(version.hasPrefix("4."), "CRIU \(version)")
            let verdicts = try #require(report["verdicts"] as? [[String: Any]])
            let criuCheck = try #require(verdicts.first { $0["capability"] as? String == "criu check" })
            #expect(criuCheck["ok"] as? Bool == true, "\(criuCheck)")
            #expect(report["ok"] as? Bool == true)
            #expect(result.succeeded)
            // Only features Ferry uses are reported: lazy pages (--postcopy), no pre-dumps.
            let capabilities = verdicts.compactMap { $0["capability"] as? String }
            #expect(
                Set(capabilities) == [
                    "mount API (fsopen, open_tree, move_mount)", "MOVE_MOUNT_SET_GROUP", "openat2", "pidfd", "cgroup freezer",
                    "overlayfs", "loop devices", "autofs", "FUSE", "userfaultfd", "CRIU version", "criu check",
                ], "\(capabilities)")

            let text = try scratch.ferry.run(["check"]).stdout
            #expect(text.contains("Ferry can run on this host."))
        }

        @Test func missingCriuFailsTheCheck() throws {
            let scratch = try Scratch("check-missing")
            defer { scratch.cleanUp() }
            let result = try scratch.ferry.run(["check", "--criu", scratch.path("no-criu")])
            #expect(!result.succeeded)
            #expect(result.stdout.contains("FAIL") && result.stdout.contains(scratch.path("no-criu")))
        }
    }
}
