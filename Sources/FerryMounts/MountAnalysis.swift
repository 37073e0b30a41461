/// Facts derived from one namespace's mount list that handlers and the canonical form need:
/// which mount is the container root, which mounts sit on top of which.
public struct MountAnalysis: Sendable {
    public let mounts: [MountInfo]
    private let byID: [Int: MountInfo]

    public init(_ mounts: [MountInfo]) {
        self.mounts = mounts
        var index: [Int: MountInfo] = [:]
        for mount in mounts { index[mount.id] = mount }
        byID = index
    }

    /// The bottom mount at "/": its parent is not in the list (it is outside the container).
    public var root: MountInfo? {
        mounts.first { $0.mountPoint == "/" && byID[$0.parentID] == nil }
    }

    public func parent(of mount: MountInfo) -> MountInfo? { byID[mount.parentID] }

    /// 0 for a mount on a directory of its parent, n for the n-th mount stacked on the
    /// same mount point (an overmount has its covered mount as parent).
    public func stackIndex(of mount: MountInfo) -> Int {
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
        guard let root else { return MountContext(isContainerRoot: false, insideRootFilesystem: false) }
        let isRoot = mount.id == root.id
        let inside = mount.device == root.device && Self.path(mount.root, isWithin: root.root)
        return MountContext(isContainerRoot: isRoot, insideRootFilesystem: inside)
    }

    public func verdict(for mount: MountInfo) -> (kind: FilesystemKind, verdict: MountVerdict) {
        let context = context(for: mount)
        let handler = FilesystemHandlers.handler(for: mount, context)
        return (handler.kind, handler.verdict(mount, context))
    }

    static func path(_ path: String, isWithin base: String) -> Bool {
        base == "/" || path == base || path.hasPrefix(base.hasSuffix("/") ? base : base + "/")
    }
}
