import FerryErrors
import FerrySystem
import Foundation
import Glibc
import Logging

/// What `ferry create` is asked for, before anything is checked.
public struct CreateRequest: Sendable {
    public enum StorageRequest: Sendable {
        case shared
        case insulatedImage(sizeBytes: UInt64)
        /// `format`: erase a filesystem already on the device (never done silently).
        case insulatedDevice(path: String, format: Bool)
    }

    public var name: ContainerName
    public var rootfs: String
    public var storage: StorageRequest
    public var overlay: Bool
    public var binds: [BindMount]
    public var command: [String]?
    public var hostname: String?
    public var hooks: ContainerConfig.Hooks
    public var security: SecurityProfile
    public var network: ContainerNetwork?
    public var limits: ResourceLimits?
    public var shares: [NetworkShare] = []
    public var autostart = false
    /// `--userns`: a user namespace with a range of its own, allocated at create.
    public var userNamespace = false
    /// `--allow-device`s.
    public var devices: [OptionalDevice] = []

    public init(
        name: ContainerName, rootfs: String, storage: StorageRequest = .shared, overlay: Bool = false,
        binds: [BindMount] = [], command: [String]? = nil, hostname: String? = nil,
        hooks: ContainerConfig.Hooks = .init(), security: SecurityProfile = .hardened,
        network: ContainerNetwork? = nil, limits: ResourceLimits? = nil
    ) {
        self.name = name
        self.rootfs = rootfs
        self.storage = storage
        self.overlay = overlay
        self.binds = binds
        self.command = command
        self.hostname = hostname
        self.hooks = hooks
        self.security = security
        self.network = network
        self.limits = limits
    }
}

/// Creates a container: checks everything first, builds it in a hidden staging directory
/// and renames it into place last, so a failure at any point leaves nothing behind.
struct ContainerCreation {
    let root: StateRoot
    let request: CreateRequest
    let logger: Logger

    func run() throws(FerryError) -> ContainerConfig {
        let name = request.name
        let final = root.layout(of: name)
        guard access(final.directory, F_OK) != 0 else {
            throw FerryError(.alreadyExists, "container \(name) already exists under \(root.path); choose another name or 'ferry destroy \(name)' first")
        }
        let source = try validateRootfs()
        try validateBinds()
        try validateHooks()
        if let hostname = request.hostname { try Hostname.validate(hostname) }
        let userNamespace = try allocateUserNamespace()
        if case .insulatedDevice(let path, let format) = request.storage {
            try PrivateArea.refuseIfMounted(device: path)
            let existing = try Spawn.run(["blkid", "-p", "-o", "value", "-s", "TYPE", path]).stdout.trimmingNewline
            if !existing.isEmpty && !format {
                throw FerryError(.alreadyExists, "device \(path) already holds a \(existing) filesystem; pass --format to erase it")
            }
        }
        if case .insulatedImage(let size) = request.storage, size < 16 << 20 {
            throw FerryError(.invalidArgument, "image size \(size) bytes is too small; give at least 16M")
        }

        let staging = ContainerLayout(directory: "\(root.containersDirectory)/.\(name.value).creating")
        try? removeTree(staging.directory)
        try makeDirectories(staging.directory)
        do throws(FerryError) {
            let config = try build(in: staging, source: source, userNamespace: userNamespace)
            try JSONFile.write(config, to: staging.config)
            try syscall("rename", path: final.directory) { rename(staging.directory, final.directory) }
            logger.info("container created", metadata: ["container": "\(name)", "storage": "\(config.storage.summary)"])
            return config
        } catch {
            try? PrivateArea(config: placeholderConfig, layout: staging, root: root, logger: logger).unmount()
            try? removeTree(staging.directory)
            throw error
        }
    }

    private var placeholderConfig: ContainerConfig {
        ContainerConfig(name: request.name, storage: storage)
    }

    private var storage: ContainerConfig.Storage {
        switch request.storage {
        case .shared: return .shared
        case .insulatedImage(let size): return .insulatedImage(file: "private.img", sizeBytes: size)
        case .insulatedDevice(let path, _): return .insulatedDevice(path: path)
        }
    }

    private enum RootfsSource { case directory(String), tarball(String) }

    private func validateRootfs() throws(FerryError) -> RootfsSource {
        let path = request.rootfs
        var info = Glibc.stat()
        guard stat(path, &info) == 0 else {
            throw FerryError(.notFound, "rootfs \(path) does not exist; give a directory or a tarball")
        }
        let canonical = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        if (info.st_mode & S_IFMT) == S_IFDIR {
            let looksLikeRoot = ["bin", "sbin", "usr", "etc"].contains { access("\(canonical)/\($0)", F_OK) == 0 }
            guard looksLikeRoot else {
                throw FerryError(.invalidArgument, "rootfs \(path) has no bin, sbin, usr or etc; is it really a root filesystem?")
            }
            return .directory(canonical)
        }
        guard (info.st_mode & S_IFMT) == S_IFREG, canonical.contains(".tar") || canonical.hasSuffix(".tgz") else {
            throw FerryError(.invalidArgument, "rootfs \(path) is neither a directory nor a tarball (.tar, .tar.gz, .tgz, .tar.xz)")
        }
        return .tarball(canonical)
    }

    private func validateBinds() throws(FerryError) {
        try HostMountCheck.validate(addedBinds: request.binds, addedShares: request.shares)
    }

    private func validateHooks() throws(FerryError) {
        for hook in [request.hooks.premount, request.hooks.postumount].compactMap({ $0 }) {
            guard hook.hasPrefix("/"), access(hook, X_OK) == 0 else {
                throw FerryError(.invalidArgument, "hook \(hook) is not an executable file given by absolute path")
            }
        }
    }

    /// Checks that `--userns` goes with the rest of the request and picks the lowest range
    /// no container under this root has.
    private func allocateUserNamespace() throws(FerryError) -> UserNamespaceMap? {
        guard request.userNamespace else { return nil }
        if request.security == .privileged {
            throw FerryError(.invalidArgument, "--userns and --privileged contradict each other (a user namespace takes root's host powers away); give one")
        }
        return try UserNamespaceMap.allocate(avoiding: root.userNamespaceMaps().map(\.map))
    }

    private func build(in layout: ContainerLayout, source: RootfsSource, userNamespace: UserNamespaceMap?) throws(FerryError) -> ContainerConfig {
        var template: String?
        if request.overlay {
            template = try overlayTemplate(for: source)
        }
        let config = ContainerConfig(
            name: request.name, hostname: request.hostname, storage: storage, overlayTemplate: template,
            binds: request.binds, command: request.command, hooks: request.hooks, security: request.security,
            network: request.network, limits: request.limits, shares: request.shares, autostart: request.autostart,
            userNamespace: userNamespace, devices: request.devices)
        try makeDirectories(layout.privateArea)
        switch config.storage {
        case .shared: break
        case .insulatedImage(let file, let size):
            try PrivateArea.createImage(at: layout.imagePath(file), sizeBytes: size)
        case .insulatedDevice(let path):
            try PrivateArea.formatExt4(path)
        }
        let area = PrivateArea(config: config, layout: layout, root: root, logger: logger)
        try area.mountPrivate()
        defer { try? area.unmountPrivate() }
        if template == nil {
            try makeDirectories(layout.privateRootfs)
            try populate(layout.privateRootfs, from: source)
            // Shifted once, here: the container's root (the range's first id) owns its files.
            if let userNamespace { try UserNamespace.shiftOwnership(of: layout.privateRootfs, by: userNamespace.base) }
        } else {
            try makeDirectories(layout.overlayUpper)
            try makeDirectories(layout.overlayWork)
            // The upper layer's root is the container's "/": its root owns it. (The template
            // below is left as it is and idmapped at each mount: PrivateArea.)
            if let userNamespace {
                try syscall("chown", path: layout.overlayUpper) { chown(layout.overlayUpper, userNamespace.base, userNamespace.base) }
            }
        }
        try area.unmountPrivate()
        return config
    }

    /// A directory rootfs is itself the read-only lower layer; a tarball is unpacked once
    /// into templates/, keyed by its content hash, and shared by every container made from it.
    private func overlayTemplate(for source: RootfsSource) throws(FerryError) -> String {
        switch source {
        case .directory(let path):
            return path
        case .tarball(let path):
            let digest = try Spawn.check(["sha256sum", path], "cannot hash \(path)").stdout.prefix(16)
            let template = "\(root.templatesDirectory)/\(digest)"
            if access(template, F_OK) == 0 { return template }
            try root.prepare()
            let unpacking = template + ".unpacking"
            try? removeTree(unpacking)
            try makeDirectories(unpacking)
            try populate(unpacking, from: source)
            try syscall("rename", path: template) { rename(unpacking, template) }
            return template
        }
    }

    private func populate(_ destination: String, from source: RootfsSource) throws(FerryError) {
        switch source {
        case .directory(let path):
            try Spawn.check(["cp", "-a", "--reflink=auto", "\(path)/.", destination], "cannot copy rootfs \(path)")
        case .tarball(let path):
            try Spawn.check(["tar", "--numeric-owner", "-xpf", path, "-C", destination], "cannot unpack rootfs \(path)")
        }
    }
}
