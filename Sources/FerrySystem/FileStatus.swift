import Glibc

/// stat(2) of a path, following symlinks; nil when it cannot be read.
public func fileStatus(_ path: String) -> stat? {
    var info = stat()
    return stat(path, &info) == 0 ? info : nil
}

/// True when the mode bits describe a directory.
public func isDirectory(_ info: stat) -> Bool { (info.st_mode & S_IFMT) == S_IFDIR }

/// lstat(2): the path itself, a symlink as a symlink; nil when it cannot be read.
public func linkStatus(_ path: String) -> stat? {
    var info = stat()
    return lstat(path, &info) == 0 ? info : nil
}
