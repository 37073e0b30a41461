/// Reads protobuf's wire format field by field: enough for the few image fields Ferry
/// reads (CRIU's own .proto files describe them), without generated code for images
/// whose other fields Ferry never looks at. Unknown fields are skipped by wire type.
struct ProtobufWire {
    enum Value: Equatable {
        case varint(UInt64)
        case fixed64(UInt64)
        case bytes(ArraySlice<UInt8>)
        case fixed32(UInt32)
    }

    struct Malformed: Error {}

    private var bytes: ArraySlice<UInt8>

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
    }

    /// The next field, nil at the end of the message.
    mutating func next() throws(Malformed) -> (number: Int, value: Value)? {
        guard !bytes.isEmpty else { return nil }
        let key = try varint()
        let number = Int(key >> 3)
        switch key & 7 {
        case 0: return (number, .varint(try varint()))
        case 1: return (number, .fixed64(try little(8)))
        case 2:
            let length = Int(try varint())
            guard length >= 0, bytes.count >= length else { throw Malformed() }
            defer { bytes = bytes.dropFirst(length) }
            return (number, .bytes(bytes.prefix(length)))
        case 5: return (number, .fixed32(UInt32(try little(4))))
        default: throw Malformed()
        }
    }

    private mutating func varint() throws(Malformed) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while let byte = bytes.first {
            bytes = bytes.dropFirst()
            result |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { break }
        }
        throw Malformed()
    }

    private mutating func little(_ count: Int) throws(Malformed) -> UInt64 {
        guard bytes.count >= count else { throw Malformed() }
        defer { bytes = bytes.dropFirst(count) }
        return bytes.prefix(count).reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// A sint32's zigzag encoding undone.
    static func zigzag(_ value: UInt64) -> Int64 {
        Int64(bitPattern: value >> 1) ^ -Int64(bitPattern: value & 1)
    }
}
