import FerryCRIU
import FerryContainers
import FerryMounts

/// What each share's placeholder must show if the share cannot be mounted at restore:
/// the regular files and directories of the dump that lie on it (CRIU's files.img: open
/// files, mappings, working directories), as paths inside the share.
///
/// A file is on a share when the mount CRIU recorded for it shows one, in whichever
/// namespace; a bind of part of the share puts its root in front of the path.
public enum ShareInventories {
    public static func from(_ files: FilesImage, capture: MountTreeCapture, config: ContainerConfig) -> [Int: ShareInventory] {
        struct ShareMount {
            let mount: MountInfo
            let share: Int
            /// The root of the share's own mount in that namespace: a bind's root is
            /// relative to the share's root below it.
            let base: String
        }
        var byID: [Int: ShareMount] = [:]
        for (namespace, analysis) in zip(capture.namespaces, capture.analyses()) {
            for mount in namespace.mounts {
                let context = analysis.context(for: mount)
                guard context.isShare, let target = context.declaredBind,
                    let share = config.declaredShares.firstIndex(where: { $0.target == target })
                else { continue }
                let anchor = analysis.mounts.first { $0.mountPoint == target && analysis.stackIndex(of: $0) == 0 }
                let base = anchor.map { $0.root == "/" ? "" : $0.root } ?? ""
                byID[mount.id] = ShareMount(mount: mount, share: share, base: base)
            }
        }
        var result: [Int: ShareInventory] = [:]
        for file in files.regularFiles {
            guard let on = byID[file.mountID], let inMount = relative(file.path, to: on.mount.mountPoint) else { continue }
            let root = String(on.mount.root.dropFirst(on.base.count))
            let path = normalized(root + inMount)
            let entry = ShareInventory.Entry(mode: file.mode ?? 0o100644, size: file.size ?? 0)
            result[on.share, default: ShareInventory()].entries[path] = entry
        }
        return result
    }

    /// "/srv/share/a" relative to "/srv/share" is "/a"; the mount point itself is "".
    static func relative(_ path: String, to mountPoint: String) -> String? {
        var path = path
        if path.hasPrefix("./") { path.removeFirst() }
        if !path.hasPrefix("/") { path = "/" + path }
        if path == mountPoint { return "" }
        let prefix = mountPoint == "/" ? "/" : mountPoint + "/"
        guard path.hasPrefix(prefix) else { return nil }
        return "/" + path.dropFirst(prefix.count)
    }

    static func normalized(_ path: String) -> String {
        let components = path.split(separator: "/")
        return "/" + components.joined(separator: "/")
    }
}
