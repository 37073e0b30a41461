import CFuse
import Glibc

/// The one filesystem this process serves; libfuse's callbacks are C functions and
/// reach it through here.
nonisolated(unsafe) var served: PlaceholderFilesystem!

private func path(_ pointer: UnsafePointer<CChar>?) -> String {
    pointer.map { String(cString: $0) } ?? "/"
}

private func handle(_ info: UnsafeMutablePointer<fuse_file_info>?) -> UInt64? {
    guard let info, info.pointee.fh != 0 else { return nil }
    return info.pointee.fh
}

/// libfuse's operation table, each entry a line that hands the call to `served`. Locks
/// are left out on purpose: the kernel then keeps POSIX locks and flocks itself, which is
/// what CRIU restores them into and what sshfs does too.
func placeholderOperations() -> fuse_operations {
    var operations = fuse_operations()
    operations.`init` = { _, config in
        // Inode numbers are the share's (a process comparing st_ino sees the same file
        // after the swap), and nothing is cached: attributes change when the share returns.
        config?.pointee.use_ino = 1
        config?.pointee.attr_timeout = 0
        config?.pointee.entry_timeout = 0
        config?.pointee.negative_timeout = 0
        return nil
    }
    operations.getattr = { name, status, info in
        guard let status else { return -EINVAL }
        return served.getattr(path(name), status, handle: handle(info))
    }
    operations.open = { name, info in
        guard let info else { return -EINVAL }
        switch served.open(path(name), flags: info.pointee.flags) {
        case .success(let id): info.pointee.fh = id; return 0
        case .failure(let error): return -error.rawValue
        }
    }
    operations.create = { name, mode, info in
        guard let info else { return -EINVAL }
        switch served.create(path(name), mode: mode, flags: info.pointee.flags) {
        case .success(let id): info.pointee.fh = id; return 0
        case .failure(let error): return -error.rawValue
        }
    }
    operations.release = { _, info in
        if let id = handle(info) { served.release(id) }
        return 0
    }
    operations.flush = { _, _ in 0 }
    operations.read = { _, buffer, size, offset, info in
        guard let buffer, let id = handle(info) else { return -EBADF }
        return served.read(id, into: buffer, size: size, offset: offset)
    }
    operations.write = { _, buffer, size, offset, info in
        guard let buffer, let id = handle(info) else { return -EBADF }
        return served.write(id, from: buffer, size: size, offset: offset)
    }
    operations.fsync = { _, dataOnly, info in
        guard let id = handle(info) else { return 0 }
        return served.fsync(id, dataOnly: dataOnly != 0)
    }
    operations.truncate = { name, size, info in served.truncate(path(name), size: size, handle: handle(info)) }
    operations.readdir = { name, buffer, filler, _, _, _ in
        guard let filler else { return -EINVAL }
        return served.readdir(path(name)) { entry in _ = fy_fuse_fill(filler, buffer, entry) }
    }
    operations.mkdir = { name, mode in served.mkdir(path(name), mode: mode) }
    operations.unlink = { name in served.unlink(path(name)) }
    operations.rmdir = { name in served.rmdir(path(name)) }
    operations.symlink = { target, name in served.symlink(path(target), at: path(name)) }
    operations.readlink = { name, buffer, size in
        guard let buffer, size > 0 else { return -EINVAL }
        return served.readlink(path(name), into: buffer, size: size)
    }
    operations.rename = { from, to, flags in served.rename(path(from), to: path(to), flags: flags) }
    operations.link = { from, to in served.link(path(from), to: path(to)) }
    operations.chmod = { name, mode, _ in served.chmod(path(name), mode: mode) }
    operations.chown = { name, uid, gid, _ in served.chown(path(name), uid: uid, gid: gid) }
    operations.utimens = { name, times, _ in served.utimens(path(name), times) }
    operations.statfs = { _, result in
        guard let result else { return -EINVAL }
        return served.statfs(result)
    }
    return operations
}
