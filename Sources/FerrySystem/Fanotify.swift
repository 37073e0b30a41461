internal import CLinux
import FerryErrors
import Glibc
import SystemPackage

/// A fanotify group that watches a whole filesystem for changes to names and contents, and
/// reports each event by directory handle and name (kernel ≥ 5.9).
///
/// A filesystem mark, not a mount mark: mount marks see no creates, deletes or renames,
/// and a container reaches its files through mounts of its own. The group reports no open
/// descriptors, so a watched file never stays busy because of it.
public final class Fanotify: Sendable {
    private let descriptor: OwnedFileDescriptor
    /// A descriptor on the watched filesystem, for `open_by_handle_at`.
    private let anchor: OwnedFileDescriptor

    /// Watches the filesystem that holds `path` for `events`. The queue has no limit (root
    /// only): a busy host filesystem must not drop the events of the one directory watched.
    /// The corresponding C functions are `fanotify_init` and `fanotify_mark`.
    public init(filesystemOf path: String, events: FanotifyMask) throws(FerryError) {
        let flags = FY_FAN_CLASS_NOTIF | FY_FAN_CLOEXEC | FY_FAN_NONBLOCK | FY_FAN_UNLIMITED_QUEUE | FY_FAN_REPORT_FID | FY_FAN_REPORT_DFID_NAME
        let fd = try syscall("fanotify_init", path: path) { fy_fanotify_init(flags, UInt32(O_RDONLY)) }
        descriptor = OwnedFileDescriptor(taking: fd)
        try syscall("fanotify_mark", path: path) { fy_fanotify_mark(fd, FY_FAN_MARK_ADD | FY_FAN_MARK_FILESYSTEM, events.rawValue, AT_FDCWD, path) }
        anchor = try OwnedFileDescriptor.open(path, O_RDONLY | O_DIRECTORY)
    }

    /// Waits up to `milliseconds` for events to read; whether there are some.
    public func waitForEvents(milliseconds: Int32) throws(FerryError) -> Bool {
        var entry = pollfd(fd: descriptor.rawValue, events: Int16(POLLIN), revents: 0)
        return try syscall("poll") { poll(&entry, 1, milliseconds) } > 0
    }

    /// Reads what is queued into `buffer`; the bytes read, 0 when nothing is queued.
    public func read(into buffer: inout [UInt8]) throws(FerryError) -> Int {
        switch DescriptorIO.read(descriptor.rawValue, into: &buffer) {
        case .success(let count): return count
        case .failure(.wouldBlock): return 0
        case .failure(let errno): throw FerryError.system("read", errno, path: "fanotify")
        }
    }

    /// The path of the directory `handle` names now, as this process sees it; nil when the
    /// directory is gone (deleted, its handle stale). The corresponding C function is
    /// `open_by_handle_at`.
    public func path(of handle: KernelFileHandle) throws(FerryError) -> [UInt8]? {
        let fd: Int32
        switch valueOrErrno({ handle.structBytes.withUnsafeBytes { fy_open_by_handle_at(anchor.rawValue, $0.baseAddress, FY_O_PATH | O_CLOEXEC) } }) {
        case .success(let opened): fd = opened
        case .failure(let errno) where errno == Errno(rawValue: ESTALE) || errno == .noSuchFileOrDirectory: return nil
        case .failure(let errno): throw FerryError.system("open_by_handle_at", errno)
        }
        let directory = OwnedFileDescriptor(taking: fd)
        // A directory removed while still open resolves, with no name left in the tree.
        guard try directory.stat().st_nlink > 0 else { return nil }
        return try Self.linkBytes(directory.procPath)
    }

    /// The target of a /proc magic link as bytes (a path need not be UTF-8).
    /// The corresponding C function is `readlink`.
    private static func linkBytes(_ path: String) throws(FerryError) -> [UInt8] {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = try syscall("readlink", path: path) { readlink(path, &buffer, buffer.count) }
        return buffer[..<count].map { UInt8(bitPattern: $0) }
    }
}
