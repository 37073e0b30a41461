import FerryErrors
import Glibc

/// Reads a whole (small) file as text.
public func readText(_ path: String) throws(FerryError) -> String {
    let fd = try OwnedFileDescriptor.open(path, O_RDONLY)
    return String(decoding: try fd.readAll(), as: UTF8.self)
}

/// Writes text to a file, creating or truncating it.
public func writeText(_ path: String, _ text: String, mode: mode_t = 0o644) throws(FerryError) {
    let fd = try OwnedFileDescriptor.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode: mode)
    try fd.write(text)
}

extension String {
    /// The string without trailing newlines, for values read from /proc and /sys.
    public var trimmingNewline: String {
        var copy = self
        while copy.last == "\n" { copy.removeLast() }
        return copy
    }
}
