import FerryErrors
import FerrySystem
import Testing

/// The event parser against buffers laid out as the kernel writes them (the byte values
/// are the ABI of <linux/fanotify.h>, so a change to the parser's constants shows here).
@Suite struct FanotifyEventTests {
    /// struct fanotify_event_metadata: event_len, vers 3, reserved, metadata_len 24, mask, fd, pid.
    static func event(mask: UInt64, info: [[UInt8]] = [], version: UInt8 = 3) -> [UInt8] {
        let body = info.flatMap { $0 }
        return le(UInt32(24 + body.count)) + [version, 0] + le(UInt16(24)) + le(mask) + le(Int32(-1)) + le(Int32(42)) + body
    }

    /// A FAN_EVENT_INFO_TYPE_DFID_NAME record: header, fsid, file_handle, the name and its
    /// NUL, padded to 4 bytes as the kernel pads it.
    static func directoryRecord(handle: [UInt8], type: Int32 = 1, name: String, type infoType: UInt8 = 2) -> [UInt8] {
        var payload = [UInt8](repeating: 7, count: 8) + le(UInt32(handle.count)) + le(type) + handle + Array(name.utf8) + [0]
        while (payload.count + 4) % 4 != 0 { payload.append(0) }
        return [infoType, 0] + le(UInt16(payload.count + 4)) + payload
    }

    /// A FAN_EVENT_INFO_TYPE_FID record (the object itself), which the tracker skips.
    static func objectRecord(handle: [UInt8]) -> [UInt8] {
        [1, 0] + le(UInt16(12 + 8 + handle.count)) + [UInt8](repeating: 7, count: 8) + le(UInt32(handle.count)) + le(Int32(1)) + handle
    }

    static func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value.littleEndian, Array.init) }

    let handle: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]

    @Test func aCreateInADirectoryGivesItsHandleAndName() throws {
        let buffer = Self.event(mask: 0x100, info: [Self.directoryRecord(handle: handle, name: "a")])
        let events = try FanotifyEvent.parse(buffer[...])
        #expect(events == [FanotifyEvent(mask: .create, directory: KernelFileHandle(type: 1, bytes: handle), name: Array("a".utf8))])
    }

    @Test func severalEventsWithObjectRecordsAndDirectoryFlags() throws {
        let buffer =
            Self.event(mask: 0x2 | 0x8, info: [Self.directoryRecord(handle: handle, name: "file.txt"), Self.objectRecord(handle: [9, 9, 9, 9, 9, 9, 9, 9])])
            + Self.event(mask: 0x4000_0080, info: [Self.directoryRecord(handle: [1, 1, 1, 1], type: 0x81, name: "moved-in")])
            + Self.event(mask: 0x4000_0004, info: [Self.directoryRecord(handle: handle, name: ".")])
        let events = try FanotifyEvent.parse(buffer[...])
        #expect(events.map(\.mask) == [[.modify, .closeWrite], [.movedTo, .onDirectory], [.attrib, .onDirectory]])
        #expect(events[1].directory == KernelFileHandle(type: 0x81, bytes: [1, 1, 1, 1]))
        #expect(events.map { String(decoding: $0.name ?? [], as: UTF8.self) } == ["file.txt", "moved-in", "."])
    }

    @Test func anOverflowAndAnObjectOnlyEventCarryNoName() throws {
        let buffer = Self.event(mask: 0x4000) + Self.event(mask: 0x4, info: [Self.objectRecord(handle: handle)])
        let events = try FanotifyEvent.parse(buffer[...])
        #expect(events == [FanotifyEvent(mask: .queueOverflow), FanotifyEvent(mask: .attrib)])
    }

    @Test func aNameThatIsNotUTF8IsKeptByteForByte() throws {
        var record = Self.directoryRecord(handle: handle, name: "x")
        record[4 + 8 + 8 + handle.count] = 0xFF
        let events = try FanotifyEvent.parse(Self.event(mask: 0x200, info: [record])[...])
        #expect(events.first?.name == [0xFF])
    }

    @Test(arguments: [
        ("truncated header", Array(event(mask: 0x100).prefix(20))),
        ("version 2", event(mask: 0x100, version: 2)),
        ("length past the buffer", Array(event(mask: 0x100, info: [directoryRecord(handle: [1, 2, 3, 4, 5, 6, 7, 8], name: "a")]).dropLast(4))),
        ("record length 0", event(mask: 0x100, info: [[2, 0, 0, 0]])),
        ("handle longer than its record", event(mask: 0x100, info: [[2, 0] + le(UInt16(24)) + [UInt8](repeating: 0, count: 8) + le(UInt32(200)) + le(Int32(1)) + [0, 0, 0, 0]])),
        ("name without its NUL", event(mask: 0x100, info: [[2, 0] + le(UInt16(24)) + [UInt8](repeating: 0, count: 8) + le(UInt32(0)) + le(Int32(1)) + Array("abcd".utf8)])),
    ])
    func undecodableBuffersAreErrors(_ what: String, _ buffer: [UInt8]) {
        #expect(throws: FerryError.self, "\(what)") { try FanotifyEvent.parse(buffer[...]) }
    }
}
