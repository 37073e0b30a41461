/// What the admin sees at the end of a migration (and `--json` prints as its last event).
public struct MigrationSummary: Codable, Sendable, Equatable {
    public var container: String
    public var target: String
    public var mode: String
    /// Downtime: from the start of the dump to the restored container running; nil for an
    /// offline migration (and a dry run), which freeze nothing.
    public var frozenSeconds: Double?
    public var totalSeconds: Double
    /// Private-area bytes rsync sent (both syncs).
    public var dataBytes: Int
    /// CRIU image bytes sent.
    public var imageBytes: Int
    public var phases: [Phase]
    public var dryRun: Bool
    /// How the hosts differ (none of it blocking, or the migration would have refused).
    public var differences: [String]

    public struct Phase: Codable, Sendable, Equatable {
        public var step: String
        public var seconds: Double
        /// Whether the container was frozen during the step (part of the downtime).
        public var frozen: Bool
    }

    enum CodingKeys: String, CodingKey {
        case container, target, mode, frozenSeconds, totalSeconds, dataBytes, imageBytes, phases, dryRun, differences
    }

    /// Every key always: `frozenSeconds` is `null` rather than missing.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.container, forKey: .container)
        try container.encode(target, forKey: .target)
        try container.encode(mode, forKey: .mode)
        try container.encode(frozenSeconds, forKey: .frozenSeconds)
        try container.encode(totalSeconds, forKey: .totalSeconds)
        try container.encode(dataBytes, forKey: .dataBytes)
        try container.encode(imageBytes, forKey: .imageBytes)
        try container.encode(phases, forKey: .phases)
        try container.encode(dryRun, forKey: .dryRun)
        try container.encode(differences, forKey: .differences)
    }
}
