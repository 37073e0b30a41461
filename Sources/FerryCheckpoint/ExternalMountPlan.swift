import FerryContainers
import FerryErrors
import FerryMounts

/// Which host paths are bound into the container, and the CRIU keys they travel under.
///
/// CRIU cannot dump a mount whose source lies outside the container; it records such a
/// mount under a key (`--external mnt[PATH]:KEY`) and needs a host path for that key at
/// restore (`mnt[KEY]:HOSTPATH`). The keys come from the container's `--bind` list, so a
/// restore on another host can find each bind's new source by its container path.
public enum ExternalMountPlan {
    /// The externals of a captured tree, refusing any that Ferry did not bind itself.
    public static func plan(for capture: MountTreeCapture, config: ContainerConfig) throws(FerryError) -> [CheckpointManifest.ExternalMount] {
        var result: [CheckpointManifest.ExternalMount] = []
        guard let initNamespace = capture.namespaces.first(where: { $0.containerPids.contains(1) }) ?? capture.namespaces.first else {
            return []
        }
        let analysis = MountAnalysis(initNamespace.mounts)
        for mount in initNamespace.mounts where analysis.verdict(for: mount).kind == .externalBind {
            let path = analysis.key(of: mount)
            guard let index = config.binds.firstIndex(where: { $0.destination == path }) else {
                throw FerryError(
                    .invalidState,
                    "mount \(path) in container \(config.name) comes from the host (\(mount.root)) but is not one of its --bind mounts; Ferry cannot map it on restore")
            }
            let bind = config.binds[index]
            result.append(CheckpointManifest.ExternalMount(
                key: "ferry-bind-\(index)", containerPath: path, hostSource: bind.source,
                isDirectory: fileStatus(bind.source).map(isDirectory) ?? true))
        }
        return result
    }

    /// `--external` values for a dump.
    public static func dumpArguments(_ externals: [CheckpointManifest.ExternalMount]) -> [String] {
        externals.map { "mnt[\($0.containerPath)]:\($0.key)" }
    }

    /// `--external` values for a restore, with each bind's source on this host.
    public static func restoreArguments(_ externals: [CheckpointManifest.ExternalMount], config: ContainerConfig) throws(FerryError) -> [String] {
        var result: [String] = []
        for external in externals {
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
