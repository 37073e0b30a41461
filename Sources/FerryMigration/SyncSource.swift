import FerryErrors
import FerrySystem
import Glibc

/// Where the frozen-phase sync reads a container's private area, and how the kernel names
/// the area's directories when the change tracker resolves their handles.
///
/// An insulated area is read through a detached copy of its mount: the container's host
/// side is torn down (its area unmounted) as soon as CRIU has dumped it, while the sync
/// beside the dump may still read; the copy keeps the filesystem readable until the sync
/// is done, and does not keep the area's own mount busy. A shared area is a directory of
/// the host's filesystem, which nothing unmounts, and is read where it is.
final class SyncSource: Sendable {
    /// What rsync and the drain read: the area's directory, or /proc/PID/fd/N of the copy.
    let path: String
    /// How a directory's path through `anchor` starts for the area's root: its real path,
    /// or nothing for the copy, whose paths start at its own root.
    let prefix: [UInt8]
    /// The area's root, opened: what handles are resolved through and the tracker marks.
    let anchor: OwnedFileDescriptor
    /// The detached copy of an insulated area's mount, held as long as the source is.
    private let copy: DetachedMount?

    init(area: String, insulated: Bool) throws(FerryError) {
        if insulated {
            let copy = try DetachedMount.bind(area, recursive: false)
            let fd = try syscall("openat", path: area) { openat(copy.fd.rawValue, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
            anchor = OwnedFileDescriptor(taking: fd)
            path = "/proc/\(getpid())/fd/\(fd)"
            prefix = []
            self.copy = copy
        } else {
            guard let resolved = realpath(area, nil) else { throw FerryError.system("realpath", .init(rawValue: errno), path: area) }
            defer { free(resolved) }
            path = String(cString: resolved)
            prefix = Array(path.utf8)
            anchor = try OwnedFileDescriptor.open(path, O_RDONLY | O_DIRECTORY)
            copy = nil
        }
    }

    /// `path` relative to the area ("" for the area itself); nil outside it.
    func relative(_ kernelPath: [UInt8]) -> [UInt8]? {
        if kernelPath == prefix { return [] }
        guard kernelPath.count > prefix.count, kernelPath.starts(with: prefix), kernelPath[prefix.count] == UInt8(ascii: "/") else { return nil }
        return Array(kernelPath[(prefix.count + 1)...])
    }

    /// The C string of `relative` under the area, byte for byte (a name need not be UTF-8).
    func cPath(_ relative: [UInt8]) -> [CChar] {
        (Array(path.utf8) + [UInt8(ascii: "/")] + relative + [0]).map { CChar(bitPattern: $0) }
    }
}
