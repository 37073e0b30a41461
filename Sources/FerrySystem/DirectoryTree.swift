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
    try directoryEntryNames(Array(path.utf8)).map { String(decoding: $0, as: UTF8.self) }
}

/// The names in a directory as the kernel spells them (a name need not be UTF-8), without
/// `.` and `..`.
public func directoryEntryNames(_ path: [UInt8]) throws(FerryError) -> [[UInt8]] {
    guard let dir = opendir((path + [0]).map { CChar(bitPattern: $0) }) else {
        throw FerryError.system("opendir", .init(rawValue: errno), path: String(decoding: path, as: UTF8.self))
    }
    defer { closedir(dir) }
    var names: [[UInt8]] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix(while: { $0 != 0 })) }
        if name != [0x2E] && name != [0x2E, 0x2E] { names.append(name) }
    }
    return names
}
