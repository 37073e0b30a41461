import FerryErrors

/// What happened, as the bits of a fanotify event mask (the kernel's values, from
/// <linux/fanotify.h>).
public struct FanotifyMask: OptionSet, Hashable, Sendable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public static let modify = FanotifyMask(rawValue: 0x2)
    public static let closeWrite = FanotifyMask(rawValue: 0x8)
    public static let attrib = FanotifyMask(rawValue: 0x4)
    public static let movedFrom = FanotifyMask(rawValue: 0x40)
    public static let movedTo = FanotifyMask(rawValue: 0x80)
    public static let create = FanotifyMask(rawValue: 0x100)
    public static let delete = FanotifyMask(rawValue: 0x200)
    /// The kernel dropped events: what changed is no longer known.
    public static let queueOverflow = FanotifyMask(rawValue: 0x4000)
    /// The object is a directory.
    public static let onDirectory = FanotifyMask(rawValue: 0x4000_0000)

    /// Every change to a name or to what a name holds, directories included.
    public static let changes: FanotifyMask = [.modify, .closeWrite, .attrib, .movedFrom, .movedTo, .create, .delete, .onDirectory]
}

/// A file handle as the kernel reports it (`struct file_handle` without its length): the
/// key of a directory whose path may change, and what `open_by_handle_at` takes back.
public struct KernelFileHandle: Hashable, Sendable {
    public var type: Int32
    public var bytes: [UInt8]

    public init(type: Int32, bytes: [UInt8]) {
        self.type = type
        self.bytes = bytes
    }

    /// `struct file_handle` in memory: handle_bytes, handle_type, then the bytes.
    var structBytes: [UInt8] {
        withUnsafeBytes(of: UInt32(bytes.count).littleEndian, Array.init) + withUnsafeBytes(of: type.littleEndian, Array.init) + bytes
    }
}

/// One event read from a fanotify group set up with FAN_REPORT_DFID_NAME | FAN_REPORT_FID.
public struct FanotifyEvent: Equatable, Sendable {
    public var mask: FanotifyMask
    /// The directory that holds `name` (for an event on a directory itself, the directory
    /// and the name "."); nil for an event reported by object only (a link-count change)
    /// or an overflow.
    public var directory: KernelFileHandle?
    public var name: [UInt8]?

    public init(mask: FanotifyMask, directory: KernelFileHandle? = nil, name: [UInt8]? = nil) {
        self.mask = mask
        self.directory = directory
        self.name = name
    }

    /// The info record types this parser reads (the others are skipped by their length).
    static let directoryAndName: UInt8 = 2  // FAN_EVENT_INFO_TYPE_DFID_NAME
    static let metadataVersion: UInt8 = 3  // FANOTIFY_METADATA_VERSION
    static let metadataLength = 24  // struct fanotify_event_metadata
    /// struct fanotify_event_info_header (4) + __kernel_fsid_t (8), then the file handle.
    static let handleOffset = 12

    /// Decodes a buffer that `read(2)` filled from the group. Anything it cannot vouch
    /// for (another metadata version, a length past the buffer, a name without its NUL) is
    /// an error: a tracker that misread one event no longer knows what changed.
    public static func parse(_ buffer: ArraySlice<UInt8>) throws(FerryError) -> [FanotifyEvent] {
        var events: [FanotifyEvent] = []
        var offset = buffer.startIndex
        while offset < buffer.endIndex {
            guard buffer.endIndex - offset >= metadataLength else { throw undecodable("a truncated event header") }
            let length = Int(buffer.loadLittleEndian(UInt32.self, at: offset))
            let version = buffer[offset + 4]
            let metadata = Int(buffer.loadLittleEndian(UInt16.self, at: offset + 6))
            guard version == metadataVersion else { throw undecodable("metadata version \(version), not \(metadataVersion)") }
            guard metadata >= metadataLength, length >= metadata, length <= buffer.endIndex - offset else {
                throw undecodable("an event of \(length) bytes with a \(metadata)-byte header in \(buffer.endIndex - offset) bytes")
            }
            var event = FanotifyEvent(mask: FanotifyMask(rawValue: buffer.loadLittleEndian(UInt64.self, at: offset + 8)))
            try readInfo(buffer[(offset + metadata)..<(offset + length)], into: &event)
            events.append(event)
            offset += length
        }
        return events
    }

    private static func readInfo(_ records: ArraySlice<UInt8>, into event: inout FanotifyEvent) throws(FerryError) {
        var offset = records.startIndex
        while offset < records.endIndex {
            guard records.endIndex - offset >= 4 else { throw undecodable("a truncated info header") }
            let type = records[offset]
            let length = Int(records.loadLittleEndian(UInt16.self, at: offset + 2))
            guard length >= 4, length <= records.endIndex - offset else { throw undecodable("an info record of \(length) bytes") }
            if type == directoryAndName {
                (event.directory, event.name) = try directoryAndName(records[offset..<(offset + length)])
            }
            offset += length
        }
    }

    /// A DFID_NAME record: the fsid (one filesystem is marked, so it is not kept), the
    /// directory's handle, and the NUL-terminated name after it (padded to 4 bytes).
    private static func directoryAndName(_ record: ArraySlice<UInt8>) throws(FerryError) -> (KernelFileHandle, [UInt8]) {
        let start = record.startIndex + handleOffset
        guard record.endIndex - start >= 8 else { throw undecodable("a directory record without a handle") }
        let count = Int(record.loadLittleEndian(UInt32.self, at: start))
        let type = Int32(bitPattern: record.loadLittleEndian(UInt32.self, at: start + 4))
        let bytes = start + 8
        guard count <= record.endIndex - bytes else { throw undecodable("a \(count)-byte handle in a \(record.count)-byte record") }
        let nameBytes = record[(bytes + count)...]
        guard let end = nameBytes.firstIndex(of: 0), end > nameBytes.startIndex else { throw undecodable("a directory record without a name") }
        return (KernelFileHandle(type: type, bytes: Array(record[bytes..<(bytes + count)])), Array(nameBytes[..<end]))
    }

    private static func undecodable(_ what: String) -> FerryError {
        FerryError(.corrupt, "cannot decode a fanotify event: \(what)")
    }
}

extension ArraySlice<UInt8> {
    /// The little-endian integer at `index` (bounds checked by the caller).
    fileprivate func loadLittleEndian<T: FixedWidthInteger>(_: T.Type, at index: Int) -> T {
        var value: T = 0
        for byte in 0..<MemoryLayout<T>.size {
            value |= T(self[index + byte]) << (8 * byte)
        }
        return value
    }
}
