import FerrySystem

/// Reads lines from a descriptor, without Foundation's buffered handles.
final class LineReader {
    private let fd: Int32
    private var buffer: [UInt8] = []

    init(fd: Int32) { self.fd = fd }

    func next() -> String? {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeSubrange(...newline)
                return line
            }
            guard case .success(let count) = DescriptorIO.read(fd, into: &chunk), count > 0 else { return nil }
            buffer.append(contentsOf: chunk[0..<count])
        }
    }
}
