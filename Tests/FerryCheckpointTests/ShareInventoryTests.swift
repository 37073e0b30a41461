import FerryCheckpoint
import FerryCRIU
import FerryContainers
import FerryMounts
import Testing

/// What a share's placeholder shows: the dump's regular files (CRIU's files.img) that lie on
/// the share, as paths inside it, with the mode and size CRIU checks when it reopens them.
@Suite struct ShareInventoryTests {
    /// Protobuf's wire format, written by hand: the test states the bytes CRIU writes.
    static func varint(_ value: UInt64) -> [UInt8] {
        var value = value
        var bytes: [UInt8] = []
        repeat {
            bytes.append(UInt8(value & 0x7f) | (value > 0x7f ? 0x80 : 0))
            value >>= 7
        } while value != 0
        return bytes
    }
    static func field(_ number: UInt64, _ value: UInt64) -> [UInt8] { varint(number << 3) + varint(value) }
    static func field(_ number: UInt64, bytes: [UInt8]) -> [UInt8] { varint(number << 3 | 2) + varint(UInt64(bytes.count)) + bytes }
    static func word(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }

    /// A files.img entry of type REG: id, flags, pos, name, mnt_id (zigzag), size, mode.
    static func regular(_ id: UInt64, _ path: String, mount: Int, size: UInt64?, mode: UInt32) -> [UInt8] {
        var reg = field(1, id) + field(2, 0o2) + field(3, 0) + field(5, bytes: field(1, 0)) + field(6, bytes: Array(path.utf8))
        reg += field(7, UInt64(mount) << 1)
        if let size { reg += field(8, size) }
        reg += field(10, UInt64(mode))
        return field(1, 1) + field(2, id) + field(3, bytes: reg)
    }

    static func image(_ entries: [[UInt8]], magic: UInt32 = 0x5630_3138) -> [UInt8] {
        word(0x5456_4319) + word(magic) + entries.flatMap { word(UInt32($0.count)) + $0 }
    }

    static let tree = """
        100 50 8:1 /c/rootfs / rw - ext4 /dev/sda1 rw
        60 100 0:50 / /share rw - fuse.sshfs h3:/export rw,user_id=0,group_id=0,allow_other
        61 100 0:50 /sub /alias rw - fuse.sshfs h3:/export rw,user_id=0,group_id=0,allow_other
        62 100 0:51 / /other rw - fuse.sshfs h3:/export2 rw,user_id=0,group_id=0,allow_other
        """

    static func plan() throws -> (MountTreeCapture, ContainerConfig) {
        let shares = [
            NetworkShare(type: .sshfs, source: "h3:/export", target: "/share"),
            NetworkShare(type: .sshfs, source: "h3:/export2", target: "/other"),
        ]
        let config = ContainerConfig(name: try ContainerName("web"), storage: .shared, shares: shares)
        let capture = MountTreeCapture(
            hostRoot: "/c/rootfs",
            namespaces: [MountNamespaceCapture(inode: 1, containerPids: [1], mounts: try MountInfoParser.parse(tree), fileMounts: [])],
            declaredBinds: config.hostMountDestinations, declaredShares: shares.map(\.target))
        return (capture, config)
    }

    @Test func filesOnASharePathedInsideItAndBindsThroughTheirRoot() throws {
        let files = try FilesImage(contents: Self.image([
            Self.regular(1, "/share/log", mount: 60, size: 123, mode: 0o100644),
            Self.regular(2, "/share", mount: 60, size: nil, mode: 0o040700),
            Self.regular(3, "/alias/deep/data", mount: 61, size: 65536, mode: 0o100600),
            Self.regular(4, "/other/log2", mount: 62, size: 9, mode: 0o100644),
            Self.regular(5, "/etc/passwd", mount: 100, size: 50, mode: 0o100644),
            // A pipe (type 2): not a file on any share.
            Self.field(1, 2) + Self.field(2, 6),
        ]))
        #expect(files.regularFiles.count == 5)
        let (capture, config) = try Self.plan()
        let inventories = ShareInventories.from(files, capture: capture, config: config)
        #expect(Set(inventories.keys) == [0, 1])
        #expect(inventories[0]?.entries == [
            "/log": .init(mode: 0o100644, size: 123),
            "/": .init(mode: 0o040700, size: 0),
            "/sub/deep/data": .init(mode: 0o100600, size: 65536),
        ])
        #expect(inventories[1]?.entries == ["/log2": .init(mode: 0o100644, size: 9)])
        // The directories on the way are there too, as plain directories; "/" as recorded.
        let shown = try #require(inventories[0]?.withParents)
        #expect(shown["/sub"] == .impliedDirectory && shown["/sub/deep"] == .impliedDirectory)
        #expect(shown["/"]?.mode == 0o040700)
    }

    @Test func aDamagedImageIsRefusedByName() throws {
        let entry = Self.regular(1, "/share/log", mount: 60, size: 1, mode: 0o100644)
        #expect(throws: (any Error).self) { try FilesImage(contents: Self.image([entry], magic: 0x1234_5678)) }
        var truncated = Self.image([entry])
        truncated.removeLast(3)
        do {
            _ = try FilesImage(contents: truncated)
            Issue.record("a truncated files.img was read")
        } catch {
            #expect(error.message.contains("files.img"))
        }
    }
}
