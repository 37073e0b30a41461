import FerryErrors
import FerrySystem
import Glibc

/// The init's console output as Ferry keeps it: `console.log` in the container's directory,
/// bounded like a journal. When the file reaches `limit` bytes it becomes `console.log.1`
/// (the one before is dropped) and a new one starts, so a chatty init never fills the
/// disk and `ferry logs` always has between `limit` and twice that to show.
///
/// Only the monitor writes it (see ConsoleRelay); anyone reads it. It stays when the
/// container stops, a restore appends to it, and a migration carries it to the target in
/// the images (see `carry(into:)`).
public struct ConsoleLog: Sendable {
    /// 1 MiB current + 1 MiB previous, as podman's default log size and LXD's console
    /// ring are in the same range.
    public static let defaultLimit = 1 << 20
    /// The file names in the container's directory and in an image directory.
    public static let fileName = "console.log"
    public static let previousFileName = "console.log.1"

    public let directory: String
    public let limit: Int

    public init(directory: String, limit: Int = ConsoleLog.defaultLimit) {
        self.directory = directory
        self.limit = limit
    }

    public var current: String { "\(directory)/\(Self.fileName)" }
    public var previous: String { "\(directory)/\(Self.previousFileName)" }

    /// Everything kept, oldest first.
    public func contents() -> [UInt8] {
        read(previous) + read(current)
    }

    /// The last `count` lines, without their newlines.
    public func lastLines(_ count: Int) -> [String] {
        var lines = String(decoding: Self.lastBytes(lines: count, of: contents()), as: UTF8.self)
            .split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        return lines.map(String.init)
    }

    /// The bytes of the last `count` lines of `bytes` (a last line without its newline
    /// counts as one), byte for byte as written.
    public static func lastBytes(lines count: Int, of bytes: [UInt8]) -> [UInt8] {
        guard count > 0 else { return [] }
        let newline = UInt8(ascii: "\n")
        var end = bytes.endIndex
        if end > bytes.startIndex, bytes[end - 1] == newline { end -= 1 }
        var start = end
        var found = 0
        while start > bytes.startIndex {
            if bytes[start - 1] == newline {
                found += 1
                if found == count { break }
            }
            start -= 1
        }
        return Array(bytes[start...])
    }

    /// Copies the kept output into `imagesDirectory`, so the container's output goes where
    /// its images go (a migration's target starts with no container directory of its own).
    public func carry(into imagesDirectory: String) throws(FerryError) {
        for (path, name) in [(previous, Self.previousFileName), (current, Self.fileName)] where access(path, F_OK) == 0 {
            try Self.copy(path, to: "\(imagesDirectory)/\(name)")
        }
    }

    /// The names of the carried files in `imagesDirectory`, oldest first.
    public static func carried(in imagesDirectory: String) -> [String] {
        [previousFileName, fileName].filter { access("\(imagesDirectory)/\($0)", F_OK) == 0 }
    }

    /// Takes the output carried in `imagesDirectory`, unless the container has output of
    /// its own here (a local restore: its own log is as new as the copy, or newer).
    public func adopt(from imagesDirectory: String) throws(FerryError) {
        guard access(current, F_OK) != 0, access(previous, F_OK) != 0 else { return }
        for name in Self.carried(in: imagesDirectory) {
            try Self.copy("\(imagesDirectory)/\(name)", to: "\(directory)/\(name)")
        }
    }

    private static func copy(_ source: String, to destination: String) throws(FerryError) {
        let bytes = try OwnedFileDescriptor.open(source, O_RDONLY).readAll()
        let target = try OwnedFileDescriptor.open(destination, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o640)
        if case .failure(let errno) = DescriptorIO.writeAll(target.rawValue, bytes[...]) {
            throw FerryError.system("write", errno, path: destination)
        }
    }

    private func read(_ path: String) -> [UInt8] {
        (try? OwnedFileDescriptor.open(path, O_RDONLY).readAll()) ?? []
    }

    /// Opens the log for appending (the monitor's end).
    public func writer() throws(FerryError) -> Writer {
        try Writer(log: self)
    }

    /// Appends, rotating at the limit. Used by one thread only.
    public final class Writer {
        let log: ConsoleLog
        private var file: OwnedFileDescriptor
        private var size: Int

        init(log: ConsoleLog) throws(FerryError) {
            self.log = log
            file = try OwnedFileDescriptor.open(log.current, O_WRONLY | O_CREAT | O_APPEND, mode: 0o640)
            size = Int(try file.stat().st_size)
        }

        /// Writes `bytes`; a write that fails (a full disk) drops them rather than stall the
        /// init, whose pipe would fill and block it.
        public func append(_ bytes: ArraySlice<UInt8>) {
            if size > 0, size + bytes.count > log.limit { rotate() }
            if case .success = DescriptorIO.writeAll(file.rawValue, bytes) { size += bytes.count }
        }

        private func rotate() {
            guard rename(log.current, log.previous) == 0,
                let fresh = try? OwnedFileDescriptor.open(log.current, O_WRONLY | O_CREAT | O_APPEND | O_TRUNC, mode: 0o640)
            else { return }
            file = fresh
            size = 0
        }
    }
}
