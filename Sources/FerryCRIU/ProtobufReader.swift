import FerryErrors

/// A minimal protobuf wire-format reader: varints and length-delimited fields.
struct ProtobufReader {
    enum Value { case varint(UInt64), bytes([UInt8]) }

    private let bytes: [UInt8]
    private var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func next() throws(FerryError) -> (UInt64, Value)? {
        guard position < bytes.count else { return nil }
        let key = try varint()
        let field = key >> 3
        switch key & 7 {
        case 0:
            return (field, .varint(try varint()))
        case 2:
            let length = Int(try varint())
            guard length >= 0, position + length <= bytes.count else { throw corrupt }
            defer { position += length }
            return (field, .bytes(Array(bytes[position..<(position + length)])))
        case 1:
            position += 8
            return try next()
        case 5:
            position += 4
            return try next()
        default:
            throw corrupt
        }
    }

    private var corrupt: FerryError { FerryError(.corrupt, "malformed protobuf data in a CRIU image") }

    /// A sint32/sint64's zigzag encoding undone.
    static func zigzag(_ value: UInt64) -> Int64 {
        Int64(bitPattern: value >> 1) ^ -Int64(bitPattern: value & 1)
    }

    private mutating func varint() throws(FerryError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while position < bytes.count, shift < 64 {
            let byte = bytes[position]
            position += 1
            result |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
        throw corrupt
    }
}
