/// What Ferry makes of one mount when it plans a checkpoint.
public enum MountVerdict: Sendable, Codable, Equatable, CustomStringConvertible {
    case migratable
    /// Migratable once Ferry maps it to a path or share on the target.
    case migratableWithRemap(String)
    case blocked(String)

    public var isBlocked: Bool {
        if case .blocked = self { return true }
        return false
    }

    /// The reason given with the verdict, if any.
    public var reason: String? {
        switch self {
        case .migratable: return nil
        case .migratableWithRemap(let why), .blocked(let why): return why
        }
    }

    public var description: String {
        switch self {
        case .migratable: return "migratable"
        case .migratableWithRemap(let why): return "migratable with remap (\(why))"
        case .blocked(let why): return "blocked (\(why))"
        }
    }

    /// A structured shape for JSON (`{"state": "blocked", "reason": "…"}`): readers need not
    /// know Swift's enum encoding.
    private enum CodingKeys: String, CodingKey { case state, reason }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .migratable: try container.encode("migratable", forKey: .state)
        case .migratableWithRemap: try container.encode("migratableWithRemap", forKey: .state)
        case .blocked: try container.encode("blocked", forKey: .state)
        }
        // `null` for a verdict without a reason: every key is always there.
        try container.encode(reason, forKey: .reason)
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let reason = try container.decodeIfPresent(String.self, forKey: .reason) ?? ""
        switch try container.decode(String.self, forKey: .state) {
        case "migratable": self = .migratable
        case "migratableWithRemap": self = .migratableWithRemap(reason)
        case "blocked": self = .blocked(reason)
        case let other:
            throw DecodingError.dataCorruptedError(forKey: .state, in: container, debugDescription: "unknown verdict \(other)")
        }
    }
}
