import FerryErrors
import FerrySystem
import Foundation

/// Whether a checkpoint's images have served. A restore brings the container back to the
/// moment of its dump; restoring the same images a second time would silently roll its
/// memory back while its files stay as they are now. So a restore marks the images used,
/// and so does a fresh start that bypasses them, and Ferry asks for `--force` before it
/// restores used images or replaces unused ones.
public struct CheckpointUse: Sendable, Codable, Equatable {
    public var at: Date
    /// "restore" or "fresh start".
    public var by: String

    public init(at: Date = Date(), by: String) {
        self.at = at
        self.by = by
    }

    /// What a checkpoint directory holds, for the decisions above and `status`.
    public enum State: Sendable, Equatable {
        /// No Ferry checkpoint there.
        case none
        /// Images never restored; `createdAt` from the manifest's file.
        case unused(createdAt: Date)
        case used(CheckpointUse, createdAt: Date)

        /// What `status` says of it; nil when there is none.
        public var summary: String? {
            switch self {
            case .none: nil
            case .unused(let createdAt): "from \(CheckpointUse.describe(createdAt)), not restored yet"
            case .used(let use, let createdAt): "from \(CheckpointUse.describe(createdAt)), used by a \(use.by) at \(CheckpointUse.describe(use.at))"
            }
        }
    }

    public static let fileName = "ferry-used.json"
    /// The manifest's name (CheckpointManifest.fileName in FerryCheckpoint, which depends
    /// on this module).
    public static let manifestFileName = "ferry-manifest.json"

    public static func state(of directory: String) -> State {
        guard let created = fileStatus("\(directory)/\(manifestFileName)") else { return .none }
        let createdAt = Date(timeIntervalSince1970: TimeInterval(created.st_mtim.tv_sec))
        if let use = try? JSONFile.read(CheckpointUse.self, from: "\(directory)/\(fileName)", what: "checkpoint use") { return .used(use, createdAt: createdAt) }
        return .unused(createdAt: createdAt)
    }

    /// Records that the images in `directory` have served.
    public static func mark(_ directory: String, by: String) throws(FerryError) {
        try JSONFile.write(CheckpointUse(by: by), to: "\(directory)/\(fileName)", durable: true)
    }

    /// "from 2026-12-03 12:00:00 UTC (5 min ago)".
    public static func describe(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss 'UTC'"
        formatter.timeZone = TimeZone(identifier: "UTC")
        let seconds = max(0, Int(Date().timeIntervalSince(date)))
        let age = seconds < 120 ? "\(seconds) s" : seconds < 7200 ? "\(seconds / 60) min" : seconds < 172_800 ? "\(seconds / 3600) h" : "\(seconds / 86400) days"
        return "\(formatter.string(from: date)) (\(age) ago)"
    }
}
