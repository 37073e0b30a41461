import FerryErrors
import Glibc

/// Creates `path` and any missing parents (`mkdir -p`).
public func makeDirectories(_ path: String, mode: mode_t = 0o755) throws(FerryError) {
    var current = ""
    for part in path.split(separator: "/") {
        current += "/\(part)"
        if mkdir(current, mode) != 0 && errno != EEXIST {
            throw FerryError.system("mkdir", .init(rawValue: errno), path: current)
        }
    }
}

/// Removes a directory tree without crossing into other filesystems: a mount left under it
/// (a private area, an overlay) must never be emptied by accident.
public func removeTree(_ path: String) throws(FerryError) {
    guard access(path, F_OK) == 0 else { return }
    try Spawn.check(["rm", "-rf", "--one-file-system", path], "cannot remove \(path)")
}

/// The names in a directory, without `.` and `..`.
public func directoryEntries(_ path: String) throws(FerryError) -> [String] {
    guard let dir = opendir(path) else {
        throw FerryError.system("opendir", .init(rawValue: errno), path: path)
    }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names
}
