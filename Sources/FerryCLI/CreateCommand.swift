import ArgumentParser
import FerryContainers
import FerryErrors

/// `ferry create NAME --rootfs DIR|TARBALL …`
struct CreateCommand: FerrySubcommand {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Create a container from a rootfs directory or tarball.",
        discussion: """
            Examples:
              ferry create web --rootfs /srv/rootfs/debian
              ferry create web --rootfs debian.tar.gz --storage insulated --image 2G --memory 1G
              ferry create web --rootfs /srv/rootfs/debian --net bridge:br0 --ip fd00::10/64 --bind /srv/data:/data:ro
              ferry create job --rootfs /srv/rootfs/busybox --overlay -- /bin/sh -c 'sleep infinity'
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Container name.") var name: String
    @Option(help: "Root filesystem: a directory or a tarball.", completion: .file()) var rootfs: String
    @Option(help: "Private area: shared (a directory) or insulated (its own filesystem).", completion: .storageKind) var storage: String = "shared"
    @Option(help: "Insulated storage on this block device.", completion: .file()) var device: String?
    @Flag(help: "Erase a filesystem already on --device.") var format = false
    @Option(help: "Insulated storage in an ext4 image of this size (e.g. 512M, 2G).") var image: String?
    @Option(name: .customLong("bind"), help: "HOSTPATH:PATH[:ro] — a host file or directory inside the container.")
    var binds: [String] = []
    @Option(
        name: .customLong("share"),
        help: "type=sshfs|nfs|nfs4,source=SRC,target=PATH[,ssh-config=FILE][,options=REST] — a network share, mounted on whichever host runs the container (repeatable).")
    var shares: [String] = []
    @Flag(help: "Root is an overlay over the rootfs as a read-only template.") var overlay = false
    @Option(help: "Hostname (default: the name).") var hostname: String?
    @Option(help: "Script run before the private area is mounted.", completion: .file()) var premountHook: String?
    @Option(help: "Script run after the private area is unmounted.", completion: .file()) var postumountHook: String?
    @Flag(help: "Dangerous: root inside is root on the host (no capability, device or /proc restrictions).") var privileged = false
    @Flag(help: "Unprivileged: root inside is an ordinary id range on the host (its own user namespace; files shifted to the range).") var userns = false
    @Option(name: .customLong("allow-device"), help: "A device beyond the usual ones, made in /dev and allowed by the device rules: tun (/dev/net/tun; repeatable).")
    var allowedDevices: [String] = []
    @Option(help: "Network: none (only lo, the default) or bridge:BRIDGE (eth0 on a veth joined to BRIDGE).") var net: String?
    @Option(name: .customLong("ip"), help: "ADDRESS/PREFIX on eth0, IPv6 or IPv4 (repeatable; needs --net bridge:…).") var addresses: [String] = []
    @Option(help: "eth0's MAC address (default: a random locally administered one, kept for good).") var mac: String?
    @Option(name: .customLong("gateway"), help: "Default route via this address (one per address family).") var gateways: [String] = []
    @Option(help: "Memory limit (e.g. 512M, 2G): past it the kernel reclaims, then OOM-kills inside.") var memory: String?
    @Option(help: "CPU time limit as a number of CPUs (e.g. 1.5).") var cpus: String?
    @Option(help: "Limit on tasks (processes and threads) at once (e.g. 512).") var pids: String?
    @Flag(help: "Start it with 'ferry autostart' (the host's boot unit).") var autostart = false
    @Argument(parsing: .postTerminator, help: "The init command (default /sbin/init).") var command: [String] = []

    func run() throws {
        var request = CreateRequest(
            name: try containerName(name), rootfs: rootfs, storage: try storageRequest(),
            overlay: overlay, binds: try binds.map { try BindMount(parsing: $0) },
            command: command.isEmpty ? nil : command, hostname: hostname,
            hooks: .init(premount: premountHook, postumount: postumountHook), security: privileged ? .privileged : .hardened,
            network: try ContainerNetwork.parse(net: net, addresses: addresses, mac: mac, gateways: gateways),
            limits: try ResourceLimits().changing(memory: memory, cpus: cpus, pids: pids))
        request.autostart = autostart
        request.userNamespace = userns
        request.devices = try allowedDevices.map { (text) throws(FerryError) in try OptionalDevice(parsing: text) }
        request.shares = try shares.map { (text) throws(FerryError) in try NetworkShare(parsing: text) }
        let config = try global.manager().create(request)
        let userns = config.userNamespace.map { ", user namespace \($0.summary)" } ?? ""
        printLine("created \(config.name) (\(config.storage.summary)\(config.overlayTemplate != nil ? ", overlay" : "")\(userns))")
    }

    private func storageRequest() throws(FerryError) -> CreateRequest.StorageRequest {
        switch storage {
        case "shared":
            if device != nil || image != nil {
                throw FerryError(.invalidArgument, "--device and --image need --storage insulated")
            }
            return .shared
        case "insulated":
            switch (device, image) {
            case (let device?, nil): return .insulatedDevice(path: device, format: format)
            case (nil, let image?): return .insulatedImage(sizeBytes: try ByteSize.bytes(image, option: "--image", atLeast: PrivateArea.smallestImage))
            case (nil, nil): throw FerryError(.invalidArgument, "--storage insulated needs --device DEV or --image SIZE")
            case (.some, .some): throw FerryError(.invalidArgument, "give either --device or --image, not both")
            }
        default:
            throw FerryError(.invalidArgument, "unknown storage '\(storage)'; use shared or insulated")
        }
    }
}
