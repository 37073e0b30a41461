internal import CLinux
import FerryErrors
import Glibc
import SystemPackage

/// Resolves paths *inside* a container root without ever leaving it.
///
/// A rootfs is untrusted: `/etc` may be a symlink to `/../../host/etc`. Every lookup here is
/// an openat2(2) with RESOLVE_BENEATH from a descriptor of the root, so `..` and symlinks
/// that would climb out fail with EXDEV instead of silently landing on the host. Missing
/// components are created one at a time under descriptors obtained the same way.
public struct ContainedPath {
    public enum Kind: Sendable { case directory, file }

    public let root: OwnedFileDescriptor
    public let rootPath: String

    public init(root rootPath: String) throws(FerryError) {
        self.rootPath = rootPath
        self.root = try OwnedFileDescriptor.open(rootPath, FY_O_PATH | O_DIRECTORY)
    }

    /// Splits a container path into components, refusing `..` outright: it can only be a
    /// mistake or an attempt to escape, and refusing it is clearer than clamping it.
    public static func components(of path: String) throws(FerryError) -> [String] {
        guard path.hasPrefix("/") else {
            throw FerryError(
                .invalidArgument,
                "container path '\(path)' is not absolute; write it as seen inside the container, e.g. /etc/resolv.conf")
        }
        let parts = path.split(separator: "/").map(String.init).filter { $0 != "." }
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

    /// Opens `path` (FY_O_PATH) inside the root, creating what is missing: directories on the
    /// way, then a directory or an empty file at the end, as `kind` says.
    public func openCreating(_ path: String, as kind: Kind) throws(FerryError) -> OwnedFileDescriptor {
        let parts = try Self.components(of: path)
        guard !parts.isEmpty else { return try open(path: "", display: path, directory: true) }
        var prefix: [String] = []
        for (index, part) in parts.enumerated() {
            let isLast = index == parts.count - 1
            let relative = (prefix + [part]).joined(separator: "/")
            let wantDirectory = !isLast || kind == .directory
            if let fd = try openIfExists(relative, display: path, directory: wantDirectory) {
                if isLast {
                    if kind == .file, (try fd.stat().st_mode & S_IFMT) == S_IFDIR {
                        throw FerryError(
                            .invalidArgument,
                            "container path '\(path)' is a directory in \(rootPath), but a file is bind-mounted there; choose another destination")
                    }
                    return fd
                }
            } else {
                let parent = try open(path: prefix.joined(separator: "/"), display: path, directory: true)
                if wantDirectory {
                    try syscall("mkdirat", path: "\(rootPath)/\(relative)") {
                        mkdirat(parent.rawValue, part, 0o755)
                    }
                } else {
                    let created = try syscall("openat", path: "\(rootPath)/\(relative)") {
                        openat(parent.rawValue, part, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0o644)
                    }
                    _ = Glibc.close(created)
                }
                if isLast { return try open(path: relative, display: path, directory: wantDirectory) }
            }
            prefix.append(part)
        }
        return try open(path: parts.joined(separator: "/"), display: path, directory: kind == .directory)
    }

    private func openIfExists(_ relative: String, display: String, directory: Bool) throws(FerryError) -> OwnedFileDescriptor? {
        do throws(FerryError) {
            return try open(path: relative, display: display, directory: directory)
        } catch let error where error.code == .notFound {
            return nil
        }
    }

    private func open(path relative: String, display: String, directory: Bool) throws(FerryError) -> OwnedFileDescriptor {
        // Symlinks are followed, but RESOLVE_BENEATH keeps every step inside the root.
        let flags = UInt64(FY_O_PATH | O_CLOEXEC | (directory ? O_DIRECTORY : 0))
        let resolve = FY_RESOLVE_BENEATH | FY_RESOLVE_NO_MAGICLINKS
        let target = relative.isEmpty ? "." : relative
        switch valueOrErrno({ fy_openat2(root.rawValue, target, flags, 0, resolve) }) {
        case .success(let fd):
            return OwnedFileDescriptor(taking: fd)
        case .failure(.noSuchFileOrDirectory):
            throw FerryError(.notFound, "'\(display)' does not exist in \(rootPath)")
        case .failure(.improperLink), .failure(.tooManySymbolicLinkLevels):
            throw FerryError(
                .unsafePath,
                "container path '\(display)' leads out of the container root \(rootPath) (through a symlink); choose a path inside the container",
                cause: .errno(.improperLink, call: "openat2", path: "\(rootPath)/\(relative)"))
        case .failure(.notDirectory):
            throw FerryError(
                .invalidArgument,
                "a component of container path '\(display)' is not a directory in \(rootPath)")
        case .failure(let errno):
            throw FerryError.system("openat2", errno, path: "\(rootPath)/\(relative)")
        }
    }
}
