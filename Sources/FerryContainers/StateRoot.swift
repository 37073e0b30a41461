import FerryErrors
import FerrySystem
import Foundation

/// A host's Ferry state: `containers/NAME/…` and `templates/…`.
///
/// Every path Ferry touches on a host hangs off one root (default /var/lib/ferry), so
/// several simulated hosts can share a machine by using different roots.
public struct StateRoot: Sendable {
    public let path: String

    public static let defaultPath = "/var/lib/ferry"

    public init(path: String? = nil) {
        if let path {
            self.path = path
        } else if let fromEnvironment = ProcessInfo.processInfo.environment["FERRY_ROOT"], !fromEnvironment.isEmpty {
            self.path = fromEnvironment
        } else {
            self.path = Self.defaultPath
        }
    }

    /// Refuses, before anything is read or written under it, a root that cannot be one: a
    /// relative path (it would follow the shell's working directory, so two commands could
    /// see two different hosts) or something there that is not a directory.
    public func validate() throws(FerryError) {
        guard path.hasPrefix("/") else {
            throw FerryError(.invalidArgument, "state root '\(path)' is a relative path; give an absolute one (--root or $FERRY_ROOT), e.g. --root \(Self.defaultPath)")
        }
        if let info = fileStatus(path), !isDirectory(info) {
            throw FerryError(.invalidArgument, "state root \(path) is not a directory; give a directory or a path not there yet (--root or $FERRY_ROOT)")
        }
    }

    public var containersDirectory: String { "\(path)/containers" }
    public var templatesDirectory: String { "\(path)/templates" }
    public var migrationsDirectory: String { "\(path)/migrations" }

    /// Where an outgoing migration of `name` keeps its journal while it is unfinished.
    public func migrationJournal(of name: ContainerName) -> String { "\(migrationsDirectory)/\(name.value).json" }

    public func layout(of name: ContainerName) -> ContainerLayout {
        ContainerLayout(directory: "\(containersDirectory)/\(name.value)")
    }

    /// Creates the root's directories if they are missing.
    public func prepare() throws(FerryError) {
        for directory in [path, containersDirectory, templatesDirectory] {
            try makeDirectories(directory)
        }
    }

    /// The names of all containers on this host, sorted.
    public func containerNames() -> [ContainerName] {
        let entries = (try? directoryEntries(containersDirectory)) ?? []
        return entries.compactMap { try? ContainerName($0) }.sorted { $0.value < $1.value }
    }

    /// The id ranges of this root's `--userns` containers (a config that cannot be read
    /// counts for nothing here; `ferry list` reports it).
    public func userNamespaceMaps(except excluded: ContainerName? = nil) -> [UserNamespaceMap] {
        containerNames().filter { $0 != excluded }.compactMap { name in
            (try? JSONFile.read(ContainerConfig.self, from: layout(of: name).config, what: "config"))?.userNamespace
        }
    }

    /// A short tag for this root, so cgroups of different simulated hosts do not collide.
    public var tag: String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in path.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        return "r" + String(hash, radix: 16)
    }
}

/// The files of one container under the state root.
public struct ContainerLayout: Sendable {
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    public var config: String { "\(directory)/config.json" }
    /// The private area: a directory (shared storage) or a mount point (insulated).
    public var privateArea: String { "\(directory)/private" }
    /// The default checkpoint directory (`ferry checkpoint` without --to).
    public var checkpoint: String { "\(directory)/checkpoint" }
    /// The whole rootfs, when the container has no overlay.
    public var privateRootfs: String { "\(privateArea)/rootfs" }
    public var overlayUpper: String { "\(privateArea)/upper" }
    public var overlayWork: String { "\(privateArea)/work" }
    /// A `--userns` overlay's lower layer: the template, idmapped to the container's range.
    public var idmappedTemplate: String { "\(directory)/template" }
    /// Where an overlay root is mounted.
    public var overlayMountPoint: String { "\(directory)/rootfs" }
    public var runtimeState: String { "\(directory)/run.json" }
    /// A `--userns` container's /dev while it runs: a tmpfs the monitor fills with nodes.
    public var deviceDirectory: String { "\(directory)/dev" }
    public var monitorLog: String { "\(directory)/monitor.log" }
    /// The init's output (see ConsoleLog), and where `ferry console` reaches its monitor.
    public var consoleLog: ConsoleLog { ConsoleLog(directory: directory) }
    public var consoleSocket: String { "\(directory)/console.sock" }
    /// Where `--share` N is mounted on this host, and what its mount command said.
    public func shareMountPoint(_ index: Int) -> String { "\(directory)/shares/\(index)" }
    public func shareLog(_ index: Int) -> String { "\(directory)/shares/\(index).log" }
    /// While share N is away: its placeholder's record and inventory, and where the real
    /// share is mounted once it is back, until it is swapped in.
    public func sharePlaceholder(_ index: Int) -> String { "\(directory)/shares/\(index).placeholder.json" }
    public func sharePlaceholderLog(_ index: Int) -> String { "\(directory)/shares/\(index).placeholder.log" }
    public func shareInventory(_ index: Int) -> String { "\(directory)/shares/\(index).inventory.json" }
    public func shareReturnPoint(_ index: Int) -> String { "\(directory)/shares/\(index).return" }
    /// The images of the checkpoint that swaps returned shares in.
    public var shareSwapImages: String { "\(directory)/share-swap" }

    public func imagePath(_ file: String) -> String { "\(directory)/\(file)" }

    /// The container's root as the host sees it while it runs.
    public func rootfs(for config: ContainerConfig) -> String {
        config.overlayTemplate == nil ? privateRootfs : overlayMountPoint
    }
}
