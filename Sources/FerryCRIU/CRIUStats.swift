import FerryErrors
import Glibc

/// What CRIU measured, from its `stats-dump` and `stats-restore` images.
///
/// The images hold one protobuf `stats_entry` after CRIU's magic numbers. The message is
/// tiny and all-varint, so it is decoded here by hand rather than through generated code.
/// Times are in microseconds, as CRIU records them.
public struct CRIUStats: Sendable, Codable, Equatable {
    public var freezingTime: UInt64?
    public var frozenTime: UInt64?
    public var memdumpTime: UInt64?
    public var memwriteTime: UInt64?
    public var pagesScanned: UInt64?
    public var pagesWritten: UInt64?
    public var pagesLazy: UInt64?
    public var forkingTime: UInt64?
    public var restoreTime: UInt64?
    public var pagesRestored: UInt64?

    public init() {}

    /// The size of the pages CRIU counts: this host's (a restore runs on a host of the same
    /// architecture as the dump).
    public static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// CRIU's page counts in bytes, the one unit Ferry reports sizes in.
    public var bytesScanned: Int? { Self.bytes(pages: pagesScanned) }
    public var bytesWritten: Int? { Self.bytes(pages: pagesWritten) }
    public var bytesLazy: Int? { Self.bytes(pages: pagesLazy) }
    public var bytesRestored: Int? { Self.bytes(pages: pagesRestored) }

    static func bytes(pages: UInt64?) -> Int? {
        pages.map { Int(clamping: $0) * pageSize }
    }

    /// CRIU's microseconds in seconds, the one unit Ferry reports times in.
    public static func seconds(_ microseconds: UInt64?) -> Double? {
        microseconds.map { Double($0) / 1_000_000 }
    }

    /// Field numbers of dump_stats_entry and restore_stats_entry (CRIU's stats.proto).
    enum DumpField: UInt64 {
        case freezingTime = 1, frozenTime = 2, memdumpTime = 3, memwriteTime = 4, pagesScanned = 5
        case pagesWritten = 7, pagesLazy = 9
    }

    enum RestoreField: UInt64 {
        case forkingTime = 3, restoreTime = 4, pagesRestored = 5
    }

    /// Parses a whole stats image file, merging into `self`.
    public mutating func merge(image bytes: [UInt8]) throws(FerryError) {
        guard let entry = Self.entry(in: bytes) else {
            throw FerryError(.corrupt, "CRIU stats image is not in the expected format (\(bytes.count) bytes)")
        }
        var reader = ProtobufReader(entry)
        while let (field, value) = try reader.next() {
            guard case .bytes(let nested) = value else { continue }
            var inner = ProtobufReader(nested)
            while let (number, item) = try inner.next() {
                guard case .varint(let number64) = item else { continue }
                if field == 1, let name = DumpField(rawValue: number) {
                    switch name {
                    case .freezingTime: freezingTime = number64
                    case .frozenTime: frozenTime = number64
                    case .memdumpTime: memdumpTime = number64
                    case .memwriteTime: memwriteTime = number64
                    case .pagesScanned: pagesScanned = number64
                    case .pagesWritten: pagesWritten = number64
                    case .pagesLazy: pagesLazy = number64
                    }
                } else if field == 2, let name = RestoreField(rawValue: number) {
                    switch name {
                    case .forkingTime: forkingTime = number64
                    case .restoreTime: restoreTime = number64
                    case .pagesRestored: pagesRestored = number64
                    }
                }
            }
        }
    }

    /// The size-prefixed entry after one or two 32-bit magic numbers: the offset whose
    /// length prefix exactly covers the rest of the file is the right one.
    static func entry(in bytes: [UInt8]) -> [UInt8]? {
        for offset in [8, 4, 0] where bytes.count >= offset + 4 {
            let length = Int(bytes[offset]) | Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2]) << 16 | Int(bytes[offset + 3]) << 24
            if offset + 4 + length == bytes.count { return Array(bytes[(offset + 4)...]) }
        }
        return nil
    }
}
