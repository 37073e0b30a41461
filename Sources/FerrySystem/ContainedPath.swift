internal import CLinux
import FerryErrors
import Glibc
import SystemPackage

/// Resolves paths *inside* a container root as the container's own processes will see
/// them, without ever leaving it.
///
/// A rootfs is untrusted, and an ordinary one is full of absolute symlinks (Debian's
/// /var/run -> /run). Every lookup here is an openat2(2) with RESOLVE_IN_ROOT from a
/// descriptor of the root: an absolute symlink starts again at the root, `..` stops there,
/// and /proc magic links are refused, so /var/run means ROOT/run and `/etc -> /../../etc`
/// means ROOT/etc, never the host's. Missing components are created one at a time with
/// mkdirat (or openat) under a descriptor obtained the same way; a dangling symlink on the
/// way is followed to what it names, which is then created inside the root.
public struct ContainedPath {
    public enum Kind: Sendable { case directory, file }

    public let root: OwnedFileDescriptor
    public let rootPath: String

    /// As the kernel's MAXSYMLINKS: more symlinks than this on one path is a loop.
    private static let maximumSymlinks = 40

    public init(root rootPath: String) throws(FerryError) {
        self.rootPath = rootPath
        self.root = try OwnedFileDescriptor.open(rootPath, FY_O_PATH | O_DIRECTORY)
    }

    /// Splits a container path into components, refusing `..` outright: it can only be a
    /// mistake or an attempt to escape, and refusing it is clearer than clamping it.
    /// (A `..` in a symlink's target is the rootfs's business; it is clamped at the root.)
    public static func components(of path: String) throws(FerryError) -> [String] {
        guard path.hasPrefix("/") else {
            throw FerryError(
                .invalidArgument,
                "container path '\(path)' is not absolute; write it as seen inside the container, e.g. /etc/resolv.conf")
        }
        let parts = split(path)
        if parts.contains("..") {
            throw FerryError(
                .unsafePath,
                "container path '\(path)' contains '..'; give a plain path inside the container")
        }
        if parts.contains(where: { $0.utf8.contains(where: { $0 < 0x20 || $0 == 0x7f }) }) {
            throw FerryError(.invalidArgument, "container path '\(path)' contains control characters")
        }
        return parts
    }

    private static func split(_ path: String) -> [String] {
        path.split(separator: "/").map(String.init).filter { $0 != "." }
    }

    /// Opens (O_PATH) an existing `path` inside the root.
    public func open(_ path: String) throws(FerryError) -> OwnedFileDescriptor {
        try open(components: try Self.components(of: path), display: path, directory: false)
    }

    /// Opens (O_PATH) `path` inside the root, or nil when it does not exist there: the
    /// existence test for paths inside a rootfs (a host-side access() would follow a
    /// planted symlink out of it).
    public func openIfPresent(_ path: String) throws(FerryError) -> OwnedFileDescriptor? {
        do throws(FerryError) {
            return try open(path)
        } catch where error.code == .notFound {
            return nil
        }
    }

    /// Opens `path` (O_PATH) inside the root, creating what is missing: directories on the
    /// way, then a directory or an empty file at the end, as `kind` says.
    public func openCreating(_ path: String, as kind: Kind) throws(FerryError) -> OwnedFileDescriptor {
        // `resolved` leads from the root to a directory that exists; `pending` is what is
        // left to walk. Lookups always start at the root with the whole prefix, since
        // RESOLVE_IN_ROOT treats the descriptor it starts from as `/`.
        var resolved: [String] = []
        var pending = try Self.components(of: path)
        var symlinks = 0
        var races = 0
        while !pending.isEmpty {
            let part = pending.removeFirst()
            let isLast = pending.isEmpty
            let wantDirectory = !isLast || kind == .directory
            let candidate = resolved + [part]
            if let fd = try openIfExists(candidate, display: path, directory: wantDirectory) {
                if isLast {
                    if kind == .file, (try fd.stat().st_mode & S_IFMT) == S_IFDIR {
                        throw FerryError(
                            .invalidArgument,
                            "container path '\(path)' is a directory in \(rootPath), but a file is bind-mounted there; choose another destination")
                    }
                    return fd
                }
                resolved = candidate
                continue
            }
            let parent = try open(components: resolved, display: path, directory: true)
            if let target = Self.symlinkTarget(part, in: parent) {
                // A dangling symlink: walk on from what it names, as the kernel would.
                symlinks += 1
                guard symlinks <= Self.maximumSymlinks else { throw tooManySymlinks(path) }
                if target.hasPrefix("/") { resolved = [] }
                pending = Self.split(target) + pending
                continue
            }
            let created = "\(rootPath)/\(candidate.joined(separator: "/"))"
            let result: Result<Void, Errno>
            if wantDirectory {
                result = valueOrErrno { mkdirat(parent.rawValue, part, 0o755) }.map { _ in }
            } else {
                result = valueOrErrno {
                    openat(parent.rawValue, part, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0o644)
                }.map { Glibc.close($0) }.map { _ in }
            }
            switch result {
            case .success:
                if isLast { return try open(components: candidate, display: path, directory: wantDirectory) }
                resolved = candidate
            case .failure(.fileExists):
                // Made by someone else meanwhile: look it up again (counted, so that an
                // entry that keeps changing cannot keep us here).
                races += 1
                guard races <= Self.maximumSymlinks else {
                    throw FerryError(.busy, "container path '\(path)' keeps changing in \(rootPath) while Ferry creates it")
                }
                pending.insert(part, at: 0)
            case .failure(let errno):
                throw FerryError.system(wantDirectory ? "mkdirat" : "openat", errno, path: created)
            }
        }
        return try open(components: resolved, display: path, directory: true)
    }

    /// The first component of `path` that is a symlink in the root, as a container path;
    /// nil when every component that exists is a plain one. For callers that hand the path
    /// to a tool that follows symlinks by path (CRIU mounts at ROOT/PATH), where a symlink
    /// would lead outside the root. A missing component ends the walk: what is created
    /// there is a plain directory or file.
    public func firstSymlink(on path: String) throws(FerryError) -> String? {
        var walked: [String] = []
        for part in try Self.components(of: path) {
            guard let parent = try openIfExists(walked, display: path, directory: true) else { return nil }
            if Self.symlinkTarget(part, in: parent) != nil { return "/" + (walked + [part]).joined(separator: "/") }
            walked.append(part)
        }
        return nil
    }

    /// What the symlink `name` in `directory` points at; nil when it is not a symlink.
    /// The corresponding C function is `readlinkat`.
    private static func symlinkTarget(_ name: String, in directory: OwnedFileDescriptor) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard case .success(let count) = valueOrErrno({ readlinkat(directory.rawValue, name, &buffer, buffer.count - 1) }),
            count > 0
        else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private func tooManySymlinks(_ display: String) -> FerryError {
        FerryError(
            .unsafePath,
            "container path '\(display)' goes through too many symlinks in \(rootPath) (a loop?); choose a plain path inside the container")
    }

    private func openIfExists(_ components: [String], display: String, directory: Bool) throws(FerryError) -> OwnedFileDescriptor? {
        do throws(FerryError) {
            return try open(components: components, display: display, directory: directory)
        } catch let error where error.code == .notFound {
            return nil
        }
    }

    private func open(components: [String], display: String, directory: Bool) throws(FerryError) -> OwnedFileDescriptor {
        let relative = components.joined(separator: "/")
        let flags = FY_O_PATH | O_CLOEXEC | (directory ? O_DIRECTORY : 0)
        switch RootedLookup.openInRoot(root, relative, flags: flags) {
        case .success(let fd):
            return fd
        case .failure(.noSuchFileOrDirectory):
            throw FerryError(.notFound, "'\(display)' does not exist in \(rootPath)")
        case .failure(.tooManySymbolicLinkLevels):
            throw FerryError(
                .unsafePath,
                "container path '\(display)' goes through a /proc magic link or too many symlinks in \(rootPath); choose a plain path inside the container",
                cause: .errno(.tooManySymbolicLinkLevels, call: "openat2", path: "\(rootPath)/\(relative)"))
        case .failure(.notDirectory):
            throw FerryError(
                .invalidArgument,
                "a component of container path '\(display)' is not a directory in \(rootPath)")
        case .failure(let errno):
            throw FerryError.system("openat2", errno, path: "\(rootPath)/\(relative)")
        }
    }
}
