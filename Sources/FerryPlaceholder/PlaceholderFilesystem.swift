import CFuse
import CLinux
import FerryContainers
import FerrySystem
import Foundation
import Glibc
import SystemPackage

/// The placeholder for a share whose file server was away when its container was restored.
///
/// It lives through three phases, each entered once:
/// - `restoring`: CRIU reopens the processes' files. Lookups and attributes of what the
///   inventory lists are answered from it (the mode and size CRIU checks), opens succeed
///   without touching anything, and whatever else is asked waits.
/// - `waiting`: the processes run. Every operation that needs the share waits for it,
///   as on a hard NFS mount: a task blocked here resumes where it was, with no error to
///   handle (an errno would be a write the application believes lost). Closing a file
///   and statfs answer at once, so nothing that merely tidies up hangs.
/// - `proxying`: the real share is mounted at the backing path. Everything is done
///   there, waiting operations first, until Ferry swaps the real share in with a
///   checkpoint and restore of the container and this filesystem is unmounted.
final class PlaceholderFilesystem: @unchecked Sendable {
    enum Phase: Equatable { case restoring, waiting, proxying }

    private let lock = NSCondition()
    private var phase: Phase = .restoring
    private let inventory: [String: ShareInventory.Entry]
    private let backingPath: String
    /// The real share's root once it is mounted: every proxied path is resolved under it,
    /// so a symlink on the share never leads this root-owned daemon onto the host.
    private var backing: OwnedFileDescriptor?
    private var handles: [UInt64: Handle] = [:]
    private var nextHandle: UInt64 = 1

    /// An open file: opened on the share only once the share is there.
    final class Handle {
        let path: String
        let flags: Int32
        var file: OwnedFileDescriptor?
        init(path: String, flags: Int32) {
            self.path = path
            self.flags = flags
        }
    }

    init(inventory: ShareInventory, backingPath: String) {
        self.inventory = inventory.withParents
        self.backingPath = backingPath
    }

    // MARK: Phases

    /// The restore is over: from now on the inventory answers nothing.
    func restoreFinished() {
        lock.lock()
        if phase == .restoring { phase = .waiting }
        lock.broadcast()
        lock.unlock()
    }

    /// The real share is mounted at the backing path: serve from it, waiters first.
    func shareReturned() -> Bool {
        guard let root = try? OwnedFileDescriptor.open(backingPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC) else { return false }
        lock.lock()
        backing = root
        phase = .proxying
        lock.broadcast()
        lock.unlock()
        return true
    }

    /// The share's root, waiting until it is there. Only a task being killed is let go
    /// (EINTR), as on a hard NFS mount: the kernel waits uninterruptibly for a request the
    /// daemon has taken, so a waiter that never answered would leave a killed task
    /// unkillable. Any other interruption (a handled signal, the freezer) waits on: an
    /// EINTR there would be a failed write to the application, or a SIGBUS in a fault on
    /// a mapped page. Polled, because libfuse's own interrupt signal is SIGUSR1, ours.
    private func share() -> Result<OwnedFileDescriptor, Errno> {
        lock.lock()
        defer { lock.unlock() }
        while backing == nil {
            if fuse_interrupted() != 0, let context = fuse_get_context(), Self.isDying(context.pointee.pid) {
                return .failure(.interrupted)
            }
            _ = lock.wait(until: Date(timeIntervalSinceNow: Self.interruptPoll))
        }
        return .success(backing!)
    }

    /// Whether thread `tid` has SIGKILL pending (or is gone): /proc/TID/status, SigPnd.
    static func isDying(_ tid: pid_t) -> Bool {
        guard let text = try? String(contentsOfFile: "/proc/\(tid)/status", encoding: .utf8) else { return true }
        for line in text.split(separator: "\n") where line.hasPrefix("SigPnd:") || line.hasPrefix("ShdPnd:") {
            let mask = UInt64(line.split(separator: "\t").last ?? "", radix: 16) ?? 0
            if mask & (1 << (UInt64(SIGKILL) - 1)) != 0 { return true }
        }
        return false
    }

    /// How soon a waiting request notices it was interrupted.
    static let interruptPoll = 0.1

    /// The inventory's entry for `path`, while the restore may still ask for it.
    private func recorded(_ path: String) -> ShareInventory.Entry? {
        lock.lock()
        defer { lock.unlock() }
        return phase == .restoring ? inventory[path] : nil
    }

    // MARK: Paths on the share

    private func relative(_ path: String) -> String { String(path.drop { $0 == "/" }) }

    /// Opens `path` on the share (symlinks resolved inside it).
    private func open(_ path: String, _ flags: Int32) -> Result<OwnedFileDescriptor, Errno> {
        share().flatMap { RootedLookup.openInRoot($0, relative(path), flags: flags | O_CLOEXEC) }
    }

    /// The directory holding `path` on the share and the last component, for the *at calls
    /// that must not follow a final symlink.
    private func parent(_ path: String) -> Result<(OwnedFileDescriptor, String), Errno> {
        let components = path.split(separator: "/").map(String.init)
        guard let name = components.last else { return .failure(.invalidArgument) }
        return open(components.dropLast().joined(separator: "/"), FY_O_PATH | O_DIRECTORY).map { ($0, name) }
    }

    private func onParent(_ path: String, _ body: (Int32, String) -> Int32) -> Int32 {
        switch parent(path) {
        case .success(let (directory, name)): return Self.result(body(directory.rawValue, name))
        case .failure(let error): return -error.rawValue
        }
    }

    /// 0, or the negative errno FUSE expects.
    static func result(_ value: Int32) -> Int32 { value < 0 ? -Glibc.errno : 0 }

    // MARK: Operations (each returns 0 or -errno)

    func getattr(_ path: String, _ status: UnsafeMutablePointer<stat>, handle: UInt64?) -> Int32 {
        if let entry = recorded(path) {
            status.pointee = stat()
            status.pointee.st_mode = entry.mode
            status.pointee.st_size = Int(entry.size)
            status.pointee.st_nlink = entry.isDirectory ? 2 : 1
            return 0
        }
        if let handle {
            switch file(of: handle) {
            case .success(let fd): return Self.result(fstat(fd, status))
            case .failure(let error): return -error.rawValue
            }
        }
        if path == "/" {
            switch share() {
            case .success(let root): return Self.result(fstat(root.rawValue, status))
            case .failure(let error): return -error.rawValue
            }
        }
        return onParent(path) { fstatat($0, $1, status, AT_SYMLINK_NOFOLLOW) }
    }

    func open(_ path: String, flags: Int32) -> Result<UInt64, Errno> {
        let handle = Handle(path: path, flags: flags & ~(O_CREAT | O_EXCL | O_TRUNC))
        if recorded(path) == nil {
            switch open(path, handle.flags) {
            case .success(let file): handle.file = file
            case .failure(let error): return .failure(error)
            }
            if flags & O_TRUNC != 0, let file = handle.file, ftruncate(file.rawValue, 0) != 0 {
                return .failure(Errno(rawValue: Glibc.errno))
            }
        }
        return .success(register(handle))
    }

    func create(_ path: String, mode: mode_t, flags: Int32) -> Result<UInt64, Errno> {
        switch parent(path) {
        case .failure(let error): return .failure(error)
        case .success(let (directory, name)):
            let fd = openat(directory.rawValue, name, flags | O_CREAT | O_NOFOLLOW | O_CLOEXEC, mode)
            guard fd >= 0 else { return .failure(Errno(rawValue: Glibc.errno)) }
            let handle = Handle(path: path, flags: flags & ~(O_CREAT | O_EXCL | O_TRUNC))
            handle.file = OwnedFileDescriptor(taking: fd)
            return .success(register(handle))
        }
    }

    private func register(_ handle: Handle) -> UInt64 {
        lock.lock()
        defer { lock.unlock() }
        let id = nextHandle
        nextHandle += 1
        handles[id] = handle
        return id
    }

    /// The descriptor on the share behind an open file, opened there (with the flags of
    /// the original open) the first time it is needed. Waits for the share.
    private func file(of id: UInt64) -> Result<Int32, Errno> {
        lock.lock()
        let handle = handles[id]
        lock.unlock()
        guard let handle else { return .failure(.badFileDescriptor) }
        if let file = handle.file { return .success(file.rawValue) }
        return open(handle.path, handle.flags).map { file in
            lock.lock()
            defer { lock.unlock() }
            if handle.file == nil { handle.file = file }
            return handle.file!.rawValue
        }
    }

    func release(_ id: UInt64) {
        lock.lock()
        let handle = handles.removeValue(forKey: id)
        lock.unlock()
        handle?.file?.close()
    }

    func read(_ id: UInt64, into buffer: UnsafeMutablePointer<CChar>, size: Int, offset: off_t) -> Int32 {
        transfer(id) { pread($0, buffer, size, offset) }
    }

    func write(_ id: UInt64, from buffer: UnsafePointer<CChar>, size: Int, offset: off_t) -> Int32 {
        transfer(id) { pwrite($0, buffer, size, offset) }
    }

    /// A read or write on the file behind `id`: the byte count, or -errno.
    private func transfer(_ id: UInt64, _ body: (Int32) -> Int) -> Int32 {
        switch file(of: id) {
        case .success(let fd):
            let count = body(fd)
            return count < 0 ? -Glibc.errno : Int32(count)
        case .failure(let error):
            return -error.rawValue
        }
    }

    func fsync(_ id: UInt64, dataOnly: Bool) -> Int32 {
        lock.lock()
        let fd = handles[id]?.file?.rawValue
        lock.unlock()
        guard let fd else { return 0 }  // nothing was ever written through it
        return Self.result(dataOnly ? fdatasync(fd) : Glibc.fsync(fd))
    }

    func truncate(_ path: String, size: off_t, handle: UInt64?) -> Int32 {
        if let handle {
            switch file(of: handle) {
            case .success(let fd): return Self.result(ftruncate(fd, size))
            case .failure(let error): return -error.rawValue
            }
        }
        switch open(path, O_WRONLY) {
        case .success(let file): return Self.result(ftruncate(file.rawValue, size))
        case .failure(let error): return -error.rawValue
        }
    }

    func readdir(_ path: String, _ entry: (String) -> Void) -> Int32 {
        switch open(path, O_RDONLY | O_DIRECTORY) {
        case .failure(let error): return -error.rawValue
        case .success(let directory):
            let fd = dup(directory.rawValue)
            guard fd >= 0, let stream = fdopendir(fd) else { return -EIO }
            defer { closedir(stream) }
            while let item = Glibc.readdir(stream) {
                let name = withUnsafePointer(to: item.pointee.d_name) {
                    $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
                }
                entry(name)
            }
            return 0
        }
    }

    func mkdir(_ path: String, mode: mode_t) -> Int32 { onParent(path) { mkdirat($0, $1, mode) } }
    func unlink(_ path: String) -> Int32 { onParent(path) { unlinkat($0, $1, 0) } }
    func rmdir(_ path: String) -> Int32 { onParent(path) { unlinkat($0, $1, AT_REMOVEDIR) } }
    func symlink(_ target: String, at path: String) -> Int32 { onParent(path) { symlinkat(target, $0, $1) } }
    func chmod(_ path: String, mode: mode_t) -> Int32 { onParent(path) { fchmodat($0, $1, mode, 0) } }
    func chown(_ path: String, uid: uid_t, gid: gid_t) -> Int32 {
        onParent(path) { fchownat($0, $1, uid, gid, AT_SYMLINK_NOFOLLOW) }
    }
    func utimens(_ path: String, _ times: UnsafePointer<timespec>?) -> Int32 {
        onParent(path) { utimensat($0, $1, times, AT_SYMLINK_NOFOLLOW) }
    }

    func readlink(_ path: String, into buffer: UnsafeMutablePointer<CChar>, size: Int) -> Int32 {
        onParent(path) { directory, name in
            let count = readlinkat(directory, name, buffer, size - 1)
            if count >= 0 { buffer[count] = 0 }
            return count < 0 ? -1 : 0
        }
    }

    func rename(_ from: String, to: String, flags: UInt32) -> Int32 {
        switch (parent(from), parent(to)) {
        case (.success(let (fromDirectory, fromName)), .success(let (toDirectory, toName))):
            return Self.result(fy_renameat2(fromDirectory.rawValue, fromName, toDirectory.rawValue, toName, flags))
        case (.failure(let error), _), (_, .failure(let error)):
            return -error.rawValue
        }
    }

    func link(_ from: String, to: String) -> Int32 {
        switch (parent(from), parent(to)) {
        case (.success(let (fromDirectory, fromName)), .success(let (toDirectory, toName))):
            return Self.result(linkat(fromDirectory.rawValue, fromName, toDirectory.rawValue, toName, 0))
        case (.failure(let error), _), (_, .failure(let error)):
            return -error.rawValue
        }
    }

    /// Answers at once: `df` on the host must not hang on a share that is away.
    func statfs(_ result: UnsafeMutablePointer<statvfs>) -> Int32 {
        lock.lock()
        let fd = backing?.rawValue
        lock.unlock()
        guard let fd else {
            result.pointee = statvfs()
            result.pointee.f_bsize = 4096
            result.pointee.f_namemax = UInt(NAME_MAX)
            return 0
        }
        return Self.result(fstatvfs(fd, result))
    }
}

