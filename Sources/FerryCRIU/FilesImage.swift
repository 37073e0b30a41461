import FerryErrors
import FerrySystem
import Glibc

/// The regular files of a dump, as CRIU's files.img lists them: every file a task holds
/// open, maps, or has as working directory or root (`file_entry` with type REG, its
/// `reg_file_entry`; images/fdinfo.proto and images/regfile.proto).
public struct FilesImage: Sendable, Equatable {
    public struct RegularFile: Sendable, Equatable {
        /// The path in the task's mount namespace, from its root.
        public var path: String
        /// The mount it is on, as the dumped namespace numbered it; -1 when not recorded.
        public var mountID: Int
        /// What CRIU checks on restore: the size (when recorded) and the mode.
        public var size: UInt64?
        public var mode: UInt32?

        public init(path: String, mountID: Int, size: UInt64?, mode: UInt32?) {
            self.path = path
            self.mountID = mountID
            self.size = size
            self.mode = mode
        }
    }

    public var regularFiles: [RegularFile]

    /// Image magics (criu/include/magic.h): a file may open with the common or service
    /// magic before its own.
    static let commonMagic: UInt32 = 0x5456_4319
    static let serviceMagic: UInt32 = 0x5510_5940
    static let filesMagic: UInt32 = 0x5630_3138
    static let regularFileType: UInt64 = 1

    public init(contents: [UInt8]) throws(FerryError) {
        var offset = 0
        func word() -> UInt32? {
            guard contents.count >= offset + 4 else { return nil }
            defer { offset += 4 }
            return contents[offset..<offset + 4].reversed().reduce(0) { $0 << 8 | UInt32($1) }
        }
        var magic = word()
        if magic == Self.commonMagic || magic == Self.serviceMagic { magic = word() }
        guard magic == Self.filesMagic else {
            throw FerryError(.corrupt, "files.img does not start with CRIU's files magic; the checkpoint is damaged or from another CRIU")
        }
        regularFiles = []
        while offset < contents.count {
            guard let size = word(), contents.count >= offset + Int(size) else {
                throw FerryError(.corrupt, "files.img ends inside an entry; the checkpoint is truncated")
            }
            let entry = contents[offset..<offset + Int(size)]
            offset += Int(size)
            if let file = try Self.regularFile(in: Array(entry)) { regularFiles.append(file) }
        }
    }

    public init(directory: String) throws(FerryError) {
        let path = "\(directory)/files.img"
        try self.init(contents: try OwnedFileDescriptor.open(path, O_RDONLY).readAll())
    }

    private static func regularFile(in entry: [UInt8]) throws(FerryError) -> RegularFile? {
        var fields = ProtobufReader(entry)
        var type: UInt64 = 0
        var reg: [UInt8]?
        while let (number, value) = try fields.next() {
            switch (number, value) {
            case (1, .varint(let value)): type = value
            case (3, .bytes(let bytes)): reg = bytes
            default: continue
            }
        }
        guard type == regularFileType, let reg else { return nil }
        var file = RegularFile(path: "", mountID: -1, size: nil, mode: nil)
        fields = ProtobufReader(reg)
        while let (number, value) = try fields.next() {
            switch (number, value) {
            case (6, .bytes(let bytes)): file.path = String(decoding: bytes, as: UTF8.self)
            case (7, .varint(let value)): file.mountID = Int(ProtobufReader.zigzag(value))
            case (8, .varint(let value)): file.size = value
            case (10, .varint(let value)): file.mode = UInt32(truncatingIfNeeded: value)
            default: continue
            }
        }
        return file
    }
}
