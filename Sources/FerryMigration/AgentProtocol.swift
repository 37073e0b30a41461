import FerryCRIU
import FerryContainers
import FerrySystem

/// The request/response protocol between `ferry migrate` (source) and `ferry agent`
/// (target), one JSON object per line over the ssh channel.
///
/// Every request carries the protocol version; an agent that speaks another one answers
/// with an error naming both, so mismatched Ferry versions fail clearly before any work.
public enum AgentProtocol {
    public static let version = 1
}

public struct AgentRequest: Codable, Sendable {
    public var protocolVersion: Int
    public var operation: Operation

    public init(_ operation: Operation) {
        self.protocolVersion = AgentProtocol.version
        self.operation = operation
    }

    public enum Operation: Codable, Sendable {
        /// Who are you, what can you do, how much room is there?
        /// `shared`: a probe of the source's device, to see whether this host sees it too.
        case hello(name: String, neededBytes: UInt64, shared: SharedStorageProbe?)
        /// Make a staging directory for an incoming container.
        case prepare(config: ContainerConfig)
        /// Move the staged container into place and restore it from its staged images, or
        /// from a dump device both hosts see.
        case restore(name: String, keepImages: Bool, dumpDevice: DumpDevice?)
        /// Move the staged container into place, stopped (offline migration).
        case register(name: String)
        /// Undo everything this migration did on the target.
        case abort(name: String)
        /// The migration is complete: the container belongs to the target now.
        case commit(name: String)
        case bye
    }
}

public struct AgentResponse: Codable, Sendable {
    public var ok: Bool
    public var error: String?
    public var code: String?
    public var hello: Hello?
    public var prepared: Prepared?
    public var restored: Restored?

    public static func success() -> AgentResponse { AgentResponse(ok: true) }

    public struct Hello: Codable, Sendable {
        public var protocolVersion: Int
        public var host: String
        public var stateRoot: String
        public var criuVersion: String?
        public var kernel: KernelFeatures
        public var freeBytes: UInt64
        public var nameTaken: Bool
        /// The target's path of the source's device, when it sees the same one.
        public var sharedDevice: String?
    }

    public struct Prepared: Codable, Sendable {
        /// Where the private area is synced to (a directory on the target).
        public var privateArea: String
        /// Where CRIU's images are sent to.
        public var images: String
    }

    public struct Restored: Codable, Sendable {
        public var pid: Int32
        public var restoreSeconds: Double
    }
}
