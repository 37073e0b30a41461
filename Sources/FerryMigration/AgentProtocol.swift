import FerryErrors
import Foundation

/// The request/response protocol between `ferry migrate` (source) and `ferry agent`
/// (target), one JSON object per line over the ssh channel.
///
/// These are wire types, kept apart from Ferry's internal values on purpose: an internal
/// type may change with the code, the wire may change only with `version`. Each payload
/// names its fields explicitly; the container's config crosses as its on-disk document,
/// which carries its own format number and is checked by the target like any config.
/// Every request carries the protocol version; an agent that speaks another one answers
/// with an error naming both, so mismatched Ferry versions fail clearly before any work.
public enum AgentProtocol {
    /// 2: explicit wire payloads, features by name, errors with their causes.
    /// 3: the image stream (`openImageStream`): images cross on a TCP connection of their
    /// own, the memory as CRIU dumps it.
    /// 4: post-copy (`awaitPages`, `postcopy` in `openImageStream` and `restore`).
    public static let version = 4

    /// One message as one line: compact JSON and a newline.
    static func line<T: Encodable>(_ message: T) throws(FerryError) -> String {
        do {
            return String(decoding: try JSONEncoder().encode(message), as: UTF8.self) + "\n"
        } catch {
            throw FerryError(.invalidArgument, "cannot encode an agent message", cause: .error(error))
        }
    }
}

public struct AgentRequest: Codable, Sendable, Equatable {
    public var protocolVersion: Int
    public var operation: Operation

    public init(_ operation: Operation) {
        self.protocolVersion = AgentProtocol.version
        self.operation = operation
    }

    public enum Operation: Sendable, Equatable {
        /// Who are you, what can you do, how much room is there?
        case hello(Hello)
        /// Make a staging directory for an incoming container.
        case prepare(Prepare)
        /// Listen for the image stream of a staged container (see ImageStream).
        case openImageStream(OpenImageStream)
        /// Move the staged container into place and restore it from its staged images, or
        /// from a dump device both hosts see.
        case restore(Restore)
        /// Move the staged container into place, stopped (offline migration).
        case register(container: String)
        /// Undo everything this migration did on the target.
        case abort(container: String)
        /// The migration is complete: the container belongs to the target now (refused when
        /// the copy's lease ran out first: it is fenced).
        case commit(container: String)
        /// What the target holds of the container, for a recovery that asks before it acts.
        case status(container: String)
        /// Post-copy: answers once the lazy-pages daemon ended; ok only if it exited 0 (every
        /// page is in). Otherwise the copy has been killed already.
        case awaitPages(container: String)
        case bye

        /// How long the source waits for the answer: past it the target is taken as gone
        /// (and the channel as broken). A restore is bounded by CRIU's watchdog on the
        /// target (FERRY_CRIU_WATCHDOG, 300 s) plus the mount-tree check.
        public var deadline: Double {
            switch self {
            case .hello: 60
            case .prepare, .register: 120
            case .openImageStream: 30
            case .restore: 420
            case .abort: 300
            case .commit: 60
            case .status: 30
            case .awaitPages: 600
            case .bye: 10
            }
        }

        /// The operation's name on the wire.
        public var name: String {
            switch self {
            case .hello: "hello"
            case .prepare: "prepare"
            case .openImageStream: "openImageStream"
            case .restore: "restore"
            case .register: "register"
            case .abort: "abort"
            case .commit: "commit"
            case .status: "status"
            case .awaitPages: "awaitPages"
            case .bye: "bye"
            }
        }
    }

    public struct Hello: Codable, Sendable, Equatable {
        public var container: String
        /// The private area's bytes (nothing to store when the target sees the device).
        public var neededBytes: UInt64
        /// What CRIU's images will take: the container's resident memory, about.
        public var imageBytes: UInt64 = 0
        /// A probe of the source's device, to see whether this host sees it too.
        public var sharedStorage: StorageProbe?
        /// The bridges the container's network joins (`--net bridge:NAME`), to look for.
        public var bridges: [String]?

        public init(container: String, neededBytes: UInt64, imageBytes: UInt64 = 0, sharedStorage: StorageProbe?, bridges: [String] = []) {
            self.container = container
            self.neededBytes = neededBytes
            self.imageBytes = imageBytes
            self.sharedStorage = sharedStorage
            self.bridges = bridges
        }
    }

    public struct Prepare: Codable, Sendable, Equatable {
        /// The container's config.json as the target will keep it.
        public var config: String
    }

    public struct OpenImageStream: Codable, Sendable, Equatable {
        public var container: String
        /// The stream's 32-byte key, base64: it crosses only inside ssh.
        public var key: String
        /// Post-copy: no page stream during the dump; after the images, the stream relays
        /// CRIU's lazy-pages traffic (see PostcopyRelay).
        public var postcopy: Bool?
    }

    public struct Restore: Codable, Sendable, Equatable {
        public var container: String
        public var keepImages: Bool
        public var dumpDevice: DumpLocation?
        /// Seconds from the request's arrival within which the commit must come; past them
        /// the target's monitor fences (kills) its frozen copy by itself.
        public var lease: Double
        /// Post-copy: restore with the memory still on the source (a `criu lazy-pages`
        /// daemon fetches it over the image stream) and let the copy run at once.
        public var postcopy: Bool?

        public init(container: String, keepImages: Bool, dumpDevice: DumpLocation?, lease: Double = 60, postcopy: Bool? = nil) {
            self.container = container
            self.keepImages = keepImages
            self.dumpDevice = dumpDevice
            self.lease = lease
            self.postcopy = postcopy
        }
    }

    /// A marker written on the source's device: filesystem UUID, random token, byte offset.
    public struct StorageProbe: Codable, Sendable, Equatable {
        public var uuid: String
        public var token: String
        public var offset: UInt64
    }

    /// Images on a device both hosts see: its filesystem UUID and the directory on it.
    public struct DumpLocation: Codable, Sendable, Equatable {
        public var uuid: String
        public var directory: String
    }

    private enum Keys: String, CodingKey { case protocolVersion, op, args }
    private struct Container: Codable { var container: String }

    public init(from decoder: any Decoder) throws {
        let values = try decoder.container(keyedBy: Keys.self)
        protocolVersion = try values.decode(Int.self, forKey: .protocolVersion)
        let op = try values.decode(String.self, forKey: .op)
        switch op {
        case "hello": operation = .hello(try values.decode(Hello.self, forKey: .args))
        case "prepare": operation = .prepare(try values.decode(Prepare.self, forKey: .args))
        case "openImageStream": operation = .openImageStream(try values.decode(OpenImageStream.self, forKey: .args))
        case "restore": operation = .restore(try values.decode(Restore.self, forKey: .args))
        case "register": operation = .register(container: try values.decode(Container.self, forKey: .args).container)
        case "abort": operation = .abort(container: try values.decode(Container.self, forKey: .args).container)
        case "commit": operation = .commit(container: try values.decode(Container.self, forKey: .args).container)
        case "status": operation = .status(container: try values.decode(Container.self, forKey: .args).container)
        case "awaitPages": operation = .awaitPages(container: try values.decode(Container.self, forKey: .args).container)
        case "bye": operation = .bye
        default:
            throw DecodingError.dataCorruptedError(forKey: .op, in: values, debugDescription: "unknown operation '\(op)'")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var values = encoder.container(keyedBy: Keys.self)
        try values.encode(protocolVersion, forKey: .protocolVersion)
        try values.encode(operation.name, forKey: .op)
        switch operation {
        case .hello(let args): try values.encode(args, forKey: .args)
        case .prepare(let args): try values.encode(args, forKey: .args)
        case .openImageStream(let args): try values.encode(args, forKey: .args)
        case .restore(let args): try values.encode(args, forKey: .args)
        case .register(let name), .abort(let name), .commit(let name), .status(let name), .awaitPages(let name):
            try values.encode(Container(container: name), forKey: .args)
        case .bye: break
        }
    }
}

public struct AgentResponse: Codable, Sendable, Equatable {
    public var ok: Bool
    public var failure: Failure?
    public var hello: Hello?
    public var prepared: Prepared?
    public var restored: Restored?
    public var held: Held?
    public var imageStream: ImageStreamEndpoint?

    public static func success() -> AgentResponse { AgentResponse(ok: true) }

    /// What the target holds of a container.
    public enum Held: String, Codable, Sendable, Equatable {
        /// Nothing: never arrived, or aborted.
        case nothing
        /// Staged, not yet in place.
        case staged
        /// In place, frozen, waiting for the commit within its lease.
        case pending
        /// In place, killed by its monitor when the lease ran out: it runs nowhere there.
        case fenced
        /// The target's own (the commit came): it runs there, or stays as the admin left it.
        case owned
    }

    /// An error that crossed the wire: its code, its message, and its causes as text.
    public struct Failure: Codable, Sendable, Equatable {
        public var code: String
        public var message: String
        public var causes: [String]

        public init(_ error: FerryError) {
            code = error.code.rawValue
            message = error.message
            causes = error.detailedDescription.split(separator: "\n").dropFirst().map {
                String($0.trimmingPrefix("  caused by: "))
            }
        }

        /// The error again on the source, prefixed with the host it happened on; the
        /// causes become its cause chain, so `--verbose` shows them.
        public func error(on host: String) -> FerryError {
            let chain = causes.reversed().reduce(FerryError.Cause?.none) { inner, text in
                .error(FerryError(.commandFailed, text, cause: inner))
            }
            return FerryError(FerryError.Code(rawValue: code), "target \(host): \(message)", cause: chain)
        }
    }

    public struct Hello: Codable, Sendable, Equatable {
        public var protocolVersion: Int
        public var host: String
        public var stateRoot: String
        public var criuVersion: String?
        public var kernelRelease: String
        /// Kernel features by name (`KernelFeatures.Feature`); a name this side does not
        /// know is ignored, a name it misses counts as absent.
        public var kernelFeatures: [String: Bool]
        public var freeBytes: UInt64
        public var nameTaken: Bool
        /// The target's path of the source's device, when it sees the same one.
        public var sharedDevice: String?
        /// Each bridge asked for: whether this host has it.
        public var bridges: [String: Bool]?
    }

    public struct Prepared: Codable, Sendable, Equatable {
        /// Where the private area is synced to (a directory on the target).
        public var privateArea: String
        /// Where CRIU's images are sent to.
        public var images: String
    }

    /// Where the agent listens for the image stream.
    public struct ImageStreamEndpoint: Codable, Sendable, Equatable {
        public var address: String
        public var port: UInt16
    }

    public struct Restored: Codable, Sendable, Equatable {
        public var pid: Int32
        public var restoreSeconds: Double
    }
}
