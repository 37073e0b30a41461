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

    /// The step in words, for an admin watching the migration.
    public var words: String {
        switch self {
        case .connect: "connecting to the target"
        case .checkTarget: "checking the target"
        case .prepareTarget: "preparing the target"
        case .mountSource: "mounting the container's storage"
        case .presync: "copying the container's files"
        case .checkpoint: "checkpointing the container"
        case .finalSync: "copying the files changed since"
        case .sendImages: "sending the memory images"
        case .restoreTarget: "restoring on the target"
        case .awaitPages: "the copy runs on the target; its memory follows"
        case .registerTarget: "registering on the target"
        case .finishSource: "committing: the target takes the container"
        }
    }

    /// Whether a live migration runs this step with the container frozen: from the dump to
    /// the commit, every second of it is downtime.
    public var runsFrozen: Bool {
        switch self {
        case .checkpoint, .finalSync, .sendImages, .restoreTarget, .finishSource: true
        case .connect, .checkTarget, .prepareTarget, .mountSource, .presync, .registerTarget, .awaitPages: false
        }
    }
}
