/// What the admin sees at the end of a migration (and `--json` prints).
public struct MigrationSummary: Codable, Sendable {
    public var container: String
    public var target: String
    public var mode: String
    /// Downtime: from the start of the dump to the restored container running.
    public var frozenSeconds: Double?
    public var totalSeconds: Double
    /// Private-area bytes rsync sent (both syncs).
    public var dataBytes: UInt64
    /// CRIU image bytes sent.
    public var imageBytes: UInt64
    public var phases: [Phase]
    public var dryRun: Bool
    /// How the hosts differ (none of it blocking, or the migration would have refused).
    public var differences: [String]

    public struct Phase: Codable, Sendable {
        public var step: String
        public var seconds: Double
    }
}

/// What a running migration reports as it goes.
public enum MigrationProgress: Sendable {
    /// A step begins.
    case phase(String)
    /// rsync's running totals: bytes, percent, rate, time left.
    case transfer(String)
}
