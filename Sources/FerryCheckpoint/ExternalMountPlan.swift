import FerryContainers
import FerryErrors
import FerryMounts

/// Which host paths are bound into the container, and the CRIU keys they travel under.
///
/// CRIU cannot dump a mount whose source lies outside the container; it records such a
/// mount under a key (`--external mnt[PATH]:KEY`) and needs a host path for that key at
/// restore (`mnt[KEY]:HOSTPATH`). The keys come from the container's `--bind` list, so a
/// restore on another host can find each bind's new source by its container path. Binds
/// of a `--bind` made inside the container need no key: CRIU restores them as binds of
/// the external mount they show.
public enum ExternalMountPlan {
    /// The externals of a captured tree: the mounts the handler table gives to CRIU as
    /// externals, at their `--bind` destination in the init's namespace.
    public static func plan(for capture: MountTreeCapture, config: ContainerConfig) -> [CheckpointManifest.ExternalMount] {
        guard let index = capture.namespaces.firstIndex(where: { $0.containerPids.contains(1) }) ?? capture.namespaces.indices.first else {
            return []
        }
        let namespace = capture.namespaces[index]
        let analysis = capture.analyses()[index]
        var result: [CheckpointManifest.ExternalMount] = []
        for mount in namespace.mounts where analysis.handler(for: mount).criu == .external && analysis.context(for: mount).isDeclaredDestination {
            let path = analysis.key(of: mount)
            if analysis.context(for: mount).isShare {
                guard let shareIndex = config.declaredShares.firstIndex(where: { $0.target == path }) else { continue }
                let share = config.declaredShares[shareIndex]
                result.append(CheckpointManifest.ExternalMount(
                    key: Self.shareKey(shareIndex), containerPath: path, hostSource: "\(share.type.rawValue) \(share.source)", isDirectory: true))
                continue
            }
            if path == UserNamespaceDevices.mountPoint, config.userNamespace != nil {
                result.append(CheckpointManifest.ExternalMount(
                    key: Self.devicesKey, containerPath: path, hostSource: "tmpfs of the container's device nodes", isDirectory: true))
                continue
            }
            guard let bindIndex = config.binds.firstIndex(where: { $0.destination == path }) else { continue }
            result.append(CheckpointManifest.ExternalMount(
                key: "ferry-bind-\(bindIndex)", containerPath: path, hostSource: config.binds[bindIndex].source,
                isDirectory: !namespace.fileMounts.contains(mount.id)))
        }
        return result
    }

    /// A `--userns` container's /dev (UserNamespaceDevices): made by each host's monitor.
    static let devicesKey = "ferry-dev"

    /// A share's key names its place in the config, which travels with the checkpoint.
    static let shareKeyPrefix = "ferry-share-"
    static func shareKey(_ index: Int) -> String { shareKeyPrefix + "\(index)" }

    /// `--external` values for a dump.
    public static func dumpArguments(_ externals: [CheckpointManifest.ExternalMount]) -> [String] {
        externals.map { "mnt[\($0.containerPath)]:\($0.key)" }
    }

    /// `--external` values for a restore, with each bind's source on this host, and each
    /// share's mount point on it (the monitor mounts the share there before CRIU runs).
    public static func restoreArguments(
        _ externals: [CheckpointManifest.ExternalMount], config: ContainerConfig, layout: ContainerLayout
    ) throws(FerryError) -> [String] {
        var result: [String] = []
        for external in externals {
            if external.key == devicesKey {
                result.append("mnt[\(external.key)]:\(layout.deviceDirectory)")
                continue
            }
            if external.key.hasPrefix(shareKeyPrefix) {
                guard let index = config.declaredShares.firstIndex(where: { $0.target == external.containerPath }) else {
                    throw FerryError(.invalidState, "checkpoint needs a share at \(external.containerPath), but container \(config.name) has none")
                }
                result.append("mnt[\(external.key)]:\(layout.shareMountPoint(index))")
                continue
            }
            guard let bind = config.binds.first(where: { $0.destination == external.containerPath }) else {
                throw FerryError(.invalidState, "checkpoint needs a bind mount at \(external.containerPath), but container \(config.name) has none")
            }
            guard fileStatus(bind.source) != nil else {
                throw FerryError(
                    .notFound,
                    "bind source \(bind.source) for \(external.containerPath) does not exist on this host; pass --bind-source \(external.containerPath)=NEWPATH")
            }
            result.append("mnt[\(external.key)]:\(bind.source)")
        }
        return result
    }
}

import FerrySystem
