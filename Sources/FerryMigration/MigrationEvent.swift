/// What a running migration reports as it goes, one value per event, all through one sink
/// (`Migrator.Options.events`). The CLI renders them in words or as JSON lines; the steps
/// and transports only hand over values, so a new transport reports its bytes the same way.
public enum MigrationEvent: Sendable, Equatable {
    case phaseStarted(MigrationStep)
    case phaseEnded(MigrationStep, seconds: Double)
    /// The container stops running here (the dump freezes it) and runs nowhere until
    /// `frozenEnded`.
    case frozenStarted
    /// The commit thawed the target's copy: the downtime, in seconds.
    case frozenEnded(seconds: Double)
    case transfer(TransferKind, TransferProgress)
    /// The last event of a migration that succeeded.
    case summary(MigrationSummary)

    /// What a transfer moves: the private area's files or CRIU's images.
    public enum TransferKind: String, Sendable, Codable {
        case files, images
    }

    /// The event's name in JSON (`"type"`).
    public var type: String {
        switch self {
        case .phaseStarted: "phaseStarted"
        case .phaseEnded: "phaseEnded"
        case .frozenStarted: "frozenStarted"
        case .frozenEnded: "frozenEnded"
        case .transfer: "transfer"
        case .summary: "summary"
        }
    }
}

/// A flat object per event, `type` first: readers switch on it and never meet Swift's
/// encoding of associated values. Absent values are `null`, not missing keys.
extension MigrationEvent: Encodable {
    enum CodingKeys: String, CodingKey {
        case type, phase, seconds, what, bytes, totalBytes, bytesPerSecond, secondsLeft, summary
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(type, forKey: .type)
        switch self {
        case .phaseStarted(let step):
            try container.encode(step, forKey: .phase)
        case .phaseEnded(let step, let seconds):
            try container.encode(step, forKey: .phase)
            try container.encode(seconds, forKey: .seconds)
        case .frozenStarted:
            break
        case .frozenEnded(let seconds):
            try container.encode(seconds, forKey: .seconds)
        case .transfer(let kind, let progress):
            try container.encode(kind, forKey: .what)
            try container.encode(progress.bytes, forKey: .bytes)
            try container.encode(progress.totalBytes, forKey: .totalBytes)
            try container.encode(progress.bytesPerSecond, forKey: .bytesPerSecond)
            try container.encode(progress.secondsLeft, forKey: .secondsLeft)
        case .summary(let summary):
            try container.encode(summary, forKey: .summary)
        }
    }
}
