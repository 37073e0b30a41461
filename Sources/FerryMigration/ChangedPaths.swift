import FerryErrors
import FerrySystem

/// What changed in a private area while it was tracked, as paths relative to the area
/// (bytes: a name need not be UTF-8), and the list the frozen-phase sync sends from it.
///
/// An entry is a name whose file, link or directory was created, written, changed in its
/// attributes, renamed or deleted: the sync sends it when it exists at the freeze and
/// deletes it on the target when not. A directory that arrived whole (renamed, or moved in
/// from elsewhere) is a tree: everything under it is sent, as the target has none of it
/// under that name.
struct ChangedPaths: Equatable {
    private(set) var entries: Set<[UInt8]> = []
    private(set) var trees: Set<[UInt8]> = []

    /// What a path is at the freeze, as the list needs to know it.
    enum Kind: Equatable {
        case directory
        case other(links: UInt64)
    }

    /// Records an event on `name` in the directory at `directory` ("" for the area itself;
    /// the name "." for an event on that directory).
    mutating func record(_ mask: FanotifyMask, directory: [UInt8], name: [UInt8]) {
        let path = Self.join(directory, name)
        entries.insert(path)
        if mask.contains([.movedTo, .onDirectory]) { trees.insert(path) }
    }

    /// Records a file that changed with no event (written through a shared mapping).
    mutating func recordWritten(_ path: [UInt8]) {
        entries.insert(path)
    }

    static func join(_ directory: [UInt8], _ name: [UInt8]) -> [UInt8] {
        if name == Array(".".utf8) { return directory.isEmpty ? name : directory }
        return directory.isEmpty ? name : directory + [UInt8(ascii: "/")] + name
    }

    /// The paths the frozen-phase sync names, sorted; or why only the whole area will do.
    /// `kind` looks at a path now (nil: it is gone), `contents` lists what a tree holds.
    ///
    /// A changed file with several links refuses the list: rsync keeps hard links only
    /// among the files it is sent, and the list cannot name the other links. An entry
    /// whose parent is gone is left out: the parent's own removal is in the list (rsync
    /// would call the entry vanished, and the sync must be exact).
    func transferList(
        kind: ([UInt8]) -> Kind?, contents: ([UInt8]) throws(FerryError) -> [[UInt8]]
    ) throws(FerryError) -> FinalSyncPlan {
        var paths = entries
        for tree in trees where kind(tree) == .directory {
            paths.formUnion(try contents(tree))
        }
        var listed: [[UInt8]] = []
        for path in paths.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            switch kind(path) {
            case .other(let links) where links > 1:
                return .whole(reason: "a file with \(links) links changed: \(String(decoding: path, as: UTF8.self))")
            case .none where !Self.parentExists(path, kind: kind):
                continue
            default:
                listed.append(path)
            }
        }
        return .changed(listed)
    }

    private static func parentExists(_ path: [UInt8], kind: ([UInt8]) -> Kind?) -> Bool {
        guard let slash = path.lastIndex(of: UInt8(ascii: "/")) else { return true }
        return kind(Array(path[..<slash])) == .directory
    }
}

/// How the frozen-phase sync copies the private area: the paths that changed since the
/// tracker started, or the whole area when what changed is not known.
enum FinalSyncPlan: Equatable {
    case changed([[UInt8]])
    case whole(reason: String)
}
