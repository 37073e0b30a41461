import FerryErrors
import Foundation

/// The steps of a migration, in order. Tests enumerate them (`ferry migrate --list-steps`)
/// and make each one fail through FERRY_FAIL_AT, so a new step cannot go untested.
public enum MigrationStep: String, CaseIterable, Codable, Sendable {
    case connect = "connect"
    case checkTarget = "check-target"
    case prepareTarget = "prepare-target"
    case mountSource = "mount-source"
    case presync = "presync"
    case checkpoint = "checkpoint"
    case finalSync = "final-sync"
    case sendImages = "send-images"
    case restoreTarget = "restore-target"
    /// Post-copy only: the target's copy runs; its memory follows until the target's
    /// lazy-pages daemon has every page.
    case awaitPages = "await-pages"
    case registerTarget = "register-target"
    case finishSource = "finish-source"

    /// The steps an online (live) migration runs.
    public static let online: [MigrationStep] = [
        .connect, .checkTarget, .prepareTarget, .mountSource, .presync, .checkpoint, .finalSync, .sendImages, .restoreTarget,
        .finishSource,
    ]
    /// The steps of a post-copy (`--postcopy`) migration.
    public static let postcopy: [MigrationStep] = online.flatMap { $0 == .restoreTarget ? [$0, .awaitPages] : [$0] }
    /// The steps an offline migration (of a stopped container) runs.
    public static let offline: [MigrationStep] = [.connect, .checkTarget, .prepareTarget, .mountSource, .presync, .registerTarget, .finishSource]
}
