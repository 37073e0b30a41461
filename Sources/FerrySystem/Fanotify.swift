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

    /// Watches the filesystem that holds `path` for `events`. The queue has no limit (root
    /// only): a busy host filesystem must not drop the events of the one directory watched.
    /// The corresponding C functions are `fanotify_init` and `fanotify_mark`.
    public init(filesystemOf path: String, events: FanotifyMask) throws(FerryError) {
        let flags = FY_FAN_CLASS_NOTIF | FY_FAN_CLOEXEC | FY_FAN_NONBLOCK | FY_FAN_UNLIMITED_QUEUE | FY_FAN_REPORT_FID | FY_FAN_REPORT_DFID_NAME
        let fd = try syscall("fanotify_init", path: path) { fy_fanotify_init(flags, UInt32(O_RDONLY)) }
        descriptor = OwnedFileDescriptor(taking: fd)
        try syscall("fanotify_mark", path: path) { fy_fanotify_mark(fd, FY_FAN_MARK_ADD | FY_FAN_MARK_FILESYSTEM, events.rawValue, AT_FDCWD, path) }
    }

    /// Closes the group once its events are read: no more arrive. The group must not be
    /// used afterwards.
    public func close() {
        descriptor.close()
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

    /// The path of the directory (or open file) `handle` names now, as seen through the
    /// mount of `anchor` (a descriptor on the watched filesystem; on a detached mount, a
    /// path from its root); nil when it is gone (deleted, its handle stale).
    /// The corresponding C function is `open_by_handle_at`.
    public static func path(of handle: KernelFileHandle, through anchor: OwnedFileDescriptor) throws(FerryError) -> [UInt8]? {
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

    /// The handle of the file `fd` is open on, as fanotify reports handles.
    /// The corresponding C function is `name_to_handle_at` (AT_EMPTY_PATH).
    public static func handle(of fd: OwnedFileDescriptor) throws(FerryError) -> KernelFileHandle {
        let room = 128  // MAX_HANDLE_SZ
        var buffer = KernelFileHandle(type: 0, bytes: [UInt8](repeating: 0, count: room)).structBytes
        try syscall("name_to_handle_at") { buffer.withUnsafeMutableBytes { fy_handle_of_descriptor(fd.rawValue, $0.baseAddress) } }
        let count = min(room, Int(buffer[0]) | Int(buffer[1]) << 8 | Int(buffer[2]) << 16 | Int(buffer[3]) << 24)
        let type = Int32(bitPattern: UInt32(buffer[4]) | UInt32(buffer[5]) << 8 | UInt32(buffer[6]) << 16 | UInt32(buffer[7]) << 24)
        return KernelFileHandle(type: type, bytes: Array(buffer[8..<(8 + count)]))
    }

    /// The target of a /proc magic link as bytes (a path need not be UTF-8).
    /// The corresponding C function is `readlink`.
    private static func linkBytes(_ path: String) throws(FerryError) -> [UInt8] {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = try syscall("readlink", path: path) { readlink(path, &buffer, buffer.count) }
        return buffer[..<count].map { UInt8(bitPattern: $0) }
    }
}
