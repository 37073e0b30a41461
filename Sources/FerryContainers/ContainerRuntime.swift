import FerryErrors
import FerrySystem
import Foundation
import Glibc
import Logging

/// One container's config, paths and host-side resources, loaded for an operation.
public struct ContainerRuntime {
    public let root: StateRoot
    public let config: ContainerConfig
    public let layout: ContainerLayout
    public let logger: Logger

    public init(root: StateRoot, name: ContainerName, logger: Logger) throws(FerryError) {
        self.root = root
        self.layout = root.layout(of: name)
        self.logger = logger
        guard access(layout.config, F_OK) == 0 else {
            throw FerryError(.notFound, "container \(name) does not exist under \(root.path); see 'ferry list'")
        }
        let config = try JSONFile.read(ContainerConfig.self, from: layout.config, what: "config of container \(name)")
        guard config.format <= ContainerConfig.currentFormat else {
            throw FerryError(
                .corrupt,
                "config of container \(name) has format \(config.format), newer than this Ferry understands (\(ContainerConfig.currentFormat)); upgrade Ferry")
        }
        guard config.name == name else {
            throw FerryError(.corrupt, "config in \(layout.config) names container \(config.name), not \(name)")
        }
        self.config = config
    }

    public var rootfs: String { layout.rootfs(for: config) }

    public var privateArea: PrivateArea {
        PrivateArea(config: config, layout: layout, root: root, logger: logger)
    }

    public var shares: ShareMounts {
        ShareMounts(config: config, layout: layout, logger: logger)
    }

    /// A `--userns` container's host-made /dev; nil for the others.
    public var userNamespaceDevices: UserNamespaceDevices? {
        config.userNamespace.map { UserNamespaceDevices(layout: layout, map: $0, devices: config.optionalDevices) }
    }

    public var cgroup: CgroupFreezer {
        // The hierarchy exists on every host Ferry runs on (`ferry check` says so); fall
        // back to a path that simply will not exist if it does not.
        (try? CgroupFreezer.forContainer(config.name.value, group: root.tag))
            ?? CgroupFreezer(path: "/nonexistent", version: .v2)
    }

    /// Reads run.json and asks /proc whether its init lives. An operation calls this once
    /// and acts on the answer; a later call is a new look (after a start or a stop).
    public func loadState() -> ContainerState {
        let path = layout.runtimeState
        guard access(path, F_OK) == 0 else {
            if errno == ENOENT { return .stopped }
            return .unreadable(unreadable(path, FerryError.system("access", .init(rawValue: errno), path: path)))
        }
        let state: RuntimeState
        do throws(FerryError) {
            state = try JSONFile.read(RuntimeState.self, from: path, what: "run state")
        } catch {
            return .unreadable(unreadable(path, error))
        }
        return state.initAlive ? .running(state) : .crashed(state)
    }

    /// Whether run.json is still there: the monitor removes it when it has torn down, so
    /// a stop or checkpoint knows whether the host side is left to it.
    public var hasRunState: Bool { access(layout.runtimeState, F_OK) == 0 }

    private func unreadable(_ path: String, _ error: FerryError) -> FerryError {
        let why = error.code == .corrupt ? "it does not decode as a run state" : "it cannot be read"
        return FerryError(
            .corrupt,
            "run state \(path) of container \(config.name) is unreadable (\(why)); if no init of it runs, remove the file",
            cause: .error(error))
    }

    /// Undoes everything `start` did on the host. Safe to call twice.
    public func teardown() throws(FerryError) {
        try detachCRIUYards()
        try userNamespaceDevices?.unmount()
        try privateArea.unmount()
        if cgroup.exists, !cgroup.pids.isEmpty {
            throw FerryError(.busy, "cgroup \(cgroup.path) of container \(config.name) still has processes \(cgroup.pids)")
        }
        // After the last task: its open files on a share were flushed as they closed.
        try shares.unmount()
        // The veth goes with the container's last task: a namespace that outlives them (a
        // closed socket still sending its FIN holds it for minutes) must not keep the
        // container's MAC and addresses on the bridge.
        if let network = config.network { NetworkAttachment(network: network, container: config.name).removeHostEnd() }
        try cgroups.remove()
        // The state root's group, then Ferry's own, once their last container is gone
        // (EBUSY while another remains).
        for member in cgroups.members {
            let group = String(member.path.prefix(upTo: member.path.lastIndex(of: "/") ?? member.path.endIndex))
            if rmdir(group) == 0 { _ = rmdir(String(group.prefix(upTo: group.lastIndex(of: "/") ?? group.endIndex))) }
        }
        if hasRunState { unlink(layout.runtimeState) }
    }

    /// A CRIU killed mid-restore leaves its temporary mounts (`.criu.cgyard.*` and the like)
    /// in the container's directory, where nothing else would ever unmount them. They are
    /// CRIU's alone, never Ferry's, so they are detached without asking.
    func detachCRIUYards() throws(FerryError) {
        let prefix = layout.directory + "/.criu."
        for mount in try MountTable.current().reversed() where mount.mountPoint.hasPrefix(prefix) {
            try Mounts.unmount(mount.mountPoint, detach: true)
        }
    }
}
