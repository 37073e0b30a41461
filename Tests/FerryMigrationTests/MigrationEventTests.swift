import Foundation
import Testing

@testable import FerryMigration

/// Each event is a flat object with `type` first-class and every key present: readers
/// switch on `type` and never meet Swift's `{"_0": …}` encoding or a missing key.
@Suite struct MigrationEventTests {
    static func object(_ event: MigrationEvent) throws -> [String: Any] {
        let data = try JSONEncoder().encode(event)
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    static let summary = MigrationSummary(
        container: "web", target: "h2", mode: "offline", frozenSeconds: nil, totalSeconds: 2.5, dataBytes: 4096, imageBytes: 0,
        phases: [.init(step: "connect", seconds: 0.25, frozen: false)], dryRun: false, differences: [])

    @Test func phasesNameTheirStep() throws {
        let started = try Self.object(.phaseStarted(.finalSync))
        #expect(started as NSDictionary == ["type": "phaseStarted", "phase": "final-sync"])
        let ended = try Self.object(.phaseEnded(.checkpoint, seconds: 0.5))
        #expect(ended as NSDictionary == ["type": "phaseEnded", "phase": "checkpoint", "seconds": 0.5])
    }

    @Test func theFrozenWindowIsTwoEvents() throws {
        #expect(try Self.object(.frozenStarted) as NSDictionary == ["type": "frozenStarted"])
        #expect(try Self.object(.frozenEnded(seconds: 1.25)) as NSDictionary == ["type": "frozenEnded", "seconds": 1.25])
    }

    @Test func transferUnknownsAreNull() throws {
        let known = try Self.object(.transfer(.images, TransferProgress(bytes: 1024, totalBytes: 4096, bytesPerSecond: 512, secondsLeft: 6)))
        #expect(
            known as NSDictionary == ["type": "transfer", "what": "images", "bytes": 1024, "totalBytes": 4096, "bytesPerSecond": 512, "secondsLeft": 6])
        let unknown = try Self.object(.transfer(.files, TransferProgress(bytes: 0)))
        #expect(unknown["totalBytes"] is NSNull && unknown["bytesPerSecond"] is NSNull && unknown["secondsLeft"] is NSNull, "\(unknown)")
        #expect(unknown["what"] as? String == "files" && unknown["bytes"] as? Int == 0)
    }

    @Test func theSummaryIsNestedWithNullForNoDowntime() throws {
        let event = try Self.object(.summary(Self.summary))
        #expect(event["type"] as? String == "summary")
        let summary = try #require(event["summary"] as? [String: Any])
        #expect(summary["frozenSeconds"] is NSNull, "an offline migration has no downtime: \(summary)")
        #expect(summary["dataBytes"] as? Int == 4096 && summary["totalSeconds"] as? Double == 2.5)
        let phases = try #require(summary["phases"] as? [[String: Any]])
        #expect(phases.first as NSDictionary? == ["step": "connect", "seconds": 0.25, "frozen": false])
        #expect(Set(summary.keys) == ["container", "target", "mode", "frozenSeconds", "totalSeconds", "dataBytes", "imageBytes", "phases", "dryRun", "differences"])
    }

    /// A field added to the summary but not to its encoder fails here.
    @Test func theSummaryNamesEveryField() throws {
        let json = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(Self.summary)) as? [String: Any])
        #expect(Set(json.keys) == Set(Mirror(reflecting: Self.summary).children.compactMap(\.label)))
    }

    /// The frozen steps of a live migration: from the dump to the commit, no others.
    @Test func frozenStepsRunFromTheDumpToTheCommit() {
        let online = MigrationStep.online
        let first = online.firstIndex(of: .checkpoint) ?? 0
        let last = online.firstIndex(of: .finishSource) ?? 0
        for (index, step) in online.enumerated() {
            #expect(step.runsFrozen == (first...last).contains(index), "\(step.rawValue)")
        }
        #expect(!MigrationStep.registerTarget.runsFrozen)
    }
}
