/// Facts derived from one namespace's mount list that handlers and the canonical form need:
/// which mount is the container root, which mounts sit on top of which, which show a
/// declared `--bind`, and so which handler each mount gets.
public struct MountAnalysis: Sendable {
    public let mounts: [MountInfo]
    private let byID: [Int: MountInfo]
    /// The bottom mount at "/": its parent is not in the list (it is outside the container).
    public let root: MountInfo?
    private let contexts: [Int: MountContext]
    /// The container's cgroup on the capturing host (see MountTreeCapture).
    public let cgroupPath: String

    public init(_ mounts: [MountInfo], declaredBinds: [String] = [], declaredShares: Set<String> = [], hostPids: Set<Int32> = [], cgroupPath: String = "") {
        self.cgroupPath = cgroupPath
        self.mounts = mounts
        var index: [Int: MountInfo] = [:]
        for mount in mounts { index[mount.id] = mount }
        byID = index
        let root = mounts.first { $0.mountPoint == "/" && index[$0.parentID] == nil }
        self.root = root
        var anchors: [(path: String, mount: MountInfo)] = []
        for path in declaredBinds {
            if let anchor = mounts.first(where: { $0.mountPoint == path && Self.stackIndex(of: $0, in: index) == 0 && $0.id != root?.id }) {
                anchors.append((path, anchor))
            }
        }
        var contexts: [Int: MountContext] = [:]
        for mount in mounts {
            var context = MountContext()
            if let root {
                context.isContainerRoot = mount.id == root.id
                context.insideRootFilesystem = !context.isContainerRoot && mount.device == root.device && Self.path(mount.root, isWithin: root.root)
            }
            if !context.isContainerRoot {
                if let anchor = anchors.first(where: { $0.mount.id == mount.id }) {
                    context.declaredBind = anchor.path
                    context.isDeclaredDestination = true
                    context.isShare = declaredShares.contains(anchor.path)
                    context.insideRootFilesystem = false
                } else if !context.insideRootFilesystem,
                    let anchor = anchors.first(where: { $0.mount.device == mount.device && Self.path(mount.root, isWithin: $0.mount.root) })
                {
                    context.declaredBind = anchor.path
                    context.isShare = declaredShares.contains(anchor.path)
                }
            }
            if let pgrp = Self.option("pgrp", in: mount.superOptions).flatMap({ Int32($0) }) {
                context.ownerInsideContainer = hostPids.contains(pgrp)
            }
            contexts[mount.id] = context
        }
        self.contexts = contexts
    }

    public func parent(of mount: MountInfo) -> MountInfo? { byID[mount.parentID] }

    /// 0 for a mount on a directory of its parent, n for the n-th mount stacked on the
    /// same mount point (an overmount has its covered mount as parent).
    public func stackIndex(of mount: MountInfo) -> Int { Self.stackIndex(of: mount, in: byID) }

    private static func stackIndex(of mount: MountInfo, in byID: [Int: MountInfo]) -> Int {
        var depth = 0
        var current = mount
        var seen: Set<Int> = [mount.id]
        while let parent = byID[current.parentID], parent.mountPoint == current.mountPoint, seen.insert(parent.id).inserted {
            depth += 1
            current = parent
        }
        return depth
    }

    /// A stable name for a mount within its namespace: mount point plus stacking depth.
    public func key(of mount: MountInfo) -> String {
        let depth = stackIndex(of: mount)
        return depth == 0 ? mount.mountPoint : "\(mount.mountPoint)#\(depth)"
    }

    public func context(for mount: MountInfo) -> MountContext {
        contexts[mount.id] ?? MountContext()
    }

    public func handler(for mount: MountInfo) -> FilesystemHandler {
        FilesystemHandlers.handler(for: mount, context(for: mount))
    }

    public func verdict(for mount: MountInfo) -> (kind: FilesystemKind, verdict: MountVerdict) {
        let handler = handler(for: mount)
        return (handler.kind, handler.verdict(mount, context(for: mount)))
    }

    /// Whether the mount's mount point lies in the container's root filesystem (its parent
    /// is the root mount): Ferry makes sure it exists there before CRIU mounts onto it.
    public func isOnRootFilesystem(_ mount: MountInfo) -> Bool {
        guard let root, mount.id != root.id else { return false }
        return mount.parentID == root.id
    }

    /// The value of `name=` in a list of options.
    static func option(_ name: String, in options: [String]) -> String? {
        options.first { $0.hasPrefix(name + "=") }.map { String($0.dropFirst(name.count + 1)) }
    }

    static func path(_ path: String, isWithin base: String) -> Bool {
        base == "/" || path == base || path.hasPrefix(base.hasSuffix("/") ? base : base + "/")
    }
}
