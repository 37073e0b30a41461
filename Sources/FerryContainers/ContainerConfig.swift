import FerryErrors

/// Everything Ferry knows about a container at rest: what `ferry create` decided.
///
/// Stored as `config.json` in the container's directory; migration sends it along.
public struct ContainerConfig: Sendable, Codable, Equatable {
    /// Bumped when the layout changes incompatibly; older Ferry refuses newer configs.
    public static let currentFormat = 1

    public var format: Int = ContainerConfig.currentFormat
    public var name: ContainerName
    public var hostname: String
    public var storage: Storage
    /// nil: the private area holds the whole rootfs. Set: the root is an overlay whose
    /// lower layer is this read-only template directory.
    public var overlayTemplate: String?
    public var binds: [BindMount]
    /// The init's argv; nil runs the rootfs's /sbin/init.
    public var command: [String]?
    public var hooks: Hooks
    /// nil in a config written before profiles existed: hardened, like every new one.
    public var security: SecurityProfile?
    /// nil: the container's own network namespace holds only `lo`.
    public var network: ContainerNetwork?
    /// nil: no limit beyond the host's.
    public var limits: ResourceLimits?
    /// nil in a config written before shares existed, and when there are none.
    public var shares: [NetworkShare]?
    /// Set: the container runs in a user namespace of its own with this id range (`--userns`);
    /// its private area's files are owned by the range. nil: no user namespace.
    public var userNamespace: UserNamespaceMap?
    /// `ferry autostart` (the host's boot unit) brings it back; nil in a config written
    /// before autostart existed, and when it is off.
    public var autostart: Bool?
    /// Devices beyond the usual ones (`--allow-device`); nil when none.
    public var devices: [OptionalDevice]?

    public init(
        name: ContainerName, hostname: String? = nil, storage: Storage, overlayTemplate: String? = nil,
        binds: [BindMount] = [], command: [String]? = nil, hooks: Hooks = Hooks(), security: SecurityProfile = .hardened,
        network: ContainerNetwork? = nil, limits: ResourceLimits? = nil, shares: [NetworkShare] = [], autostart: Bool = false,
        userNamespace: UserNamespaceMap? = nil, devices: [OptionalDevice] = []
    ) {
        self.name = name
        self.hostname = hostname ?? name.value
        self.storage = storage
        self.overlayTemplate = overlayTemplate
        self.binds = binds
        self.command = command
        self.hooks = hooks
        self.security = security
        self.network = network
        self.limits = limits.flatMap { $0.isEmpty ? nil : $0 }
        self.shares = shares.isEmpty ? nil : shares
        self.autostart = autostart ? true : nil
        self.userNamespace = userNamespace
        self.devices = devices.isEmpty ? nil : devices
    }

    /// The `--allow-device`s.
    public var optionalDevices: [OptionalDevice] { devices ?? [] }

    /// Its device cgroup's allow-list.
    public var allowedDevices: [String] { SecurityProfile.allowedDevices + optionalDevices.map(\.rule) }

    public var startsAtBoot: Bool { autostart ?? false }

    /// The `--share`s, in the order given: share N is mounted at `shares/N`.
    public var declaredShares: [NetworkShare] { shares ?? [] }

    /// The container paths Ferry binds in from the host: `--bind`s and `--share`s.
    /// A `--userns` container's /dev is one too: a tmpfs whose nodes the host made (nobody
    /// can make a device node inside a user namespace, CRIU's restore included).
    public var hostMountDestinations: [String] {
        binds.map(\.destination) + declaredShares.map(\.target) + (userNamespace == nil ? [] : [UserNamespaceDevices.mountPoint])
    }

    public var profile: SecurityProfile { security ?? .hardened }

    public var initArguments: [String] { command ?? ["/sbin/init"] }

    /// Where the private area lives.
    public enum Storage: Sendable, Codable, Equatable {
        /// A directory under the state root, on the host's filesystem.
        case shared
        /// Its own filesystem: an image file Ferry made (path relative to the container
        /// directory) attached to a loop device, or a block device given by the admin.
        case insulatedImage(file: String, sizeBytes: UInt64)
        case insulatedDevice(path: String)

        public var isInsulated: Bool { self != .shared }

        public var summary: String {
            switch self {
            case .shared: return "shared"
            case .insulatedImage(_, let size): return "insulated (ext4 image, \(size / (1 << 20)) MiB)"
            case .insulatedDevice(let path): return "insulated (device \(path))"
            }
        }
    }

    /// Admin scripts run around the private area's mount, as vzctl's premount/postumount.
    public struct Hooks: Sendable, Codable, Equatable {
        public var premount: String?
        public var postumount: String?
        public init(premount: String? = nil, postumount: String? = nil) {
            self.premount = premount
            self.postumount = postumount
        }
    }
}

/// A host file or directory made visible inside the container (`--bind HOST:PATH[:ro]`).
public struct BindMount: Sendable, Codable, Equatable {
    public var source: String
    public var destination: String
    public var readOnly: Bool

    public init(source: String, destination: String, readOnly: Bool = false) {
        self.source = source
        self.destination = destination
        self.readOnly = readOnly
    }

    /// Parses `HOSTPATH:PATH[:ro|:rw]`.
    public init(parsing text: String) throws(FerryError) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 || parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw FerryError(.invalidArgument, "bind '\(text)' is not HOSTPATH:PATH[:ro]")
        }
        var readOnly = false
        if parts.count == 3 {
            switch parts[2] {
            case "ro": readOnly = true
            case "rw": readOnly = false
            default: throw FerryError(.invalidArgument, "bind '\(text)': unknown option '\(parts[2])'; use ro or rw")
            }
        }
        guard parts[0].hasPrefix("/") else {
            throw FerryError(.invalidArgument, "bind '\(text)': host path '\(parts[0])' must be absolute")
        }
        self.init(source: parts[0], destination: parts[1], readOnly: readOnly)
    }
}
