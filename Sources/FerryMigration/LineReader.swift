import FerrySystem
import Glibc

/// Reads lines from a descriptor, without Foundation's buffered handles.
final class LineReader {
    private let fd: Int32
    private var buffer: [UInt8] = []

    init(fd: Int32) { self.fd = fd }

    /// What ended a read without a line.
    enum End: Error { case closed, timedOut }

    func next() -> String? {
        try? next(within: nil).get()
    }

    /// The next line; `.timedOut` when none is complete within `seconds` (nil: no limit).
    func next(within seconds: Double?) -> Result<String, End> {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let deadline = seconds.map { Monotonic.now + $0 }
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeSubrange(...newline)
                return .success(line)
            }
            if let deadline {
                var entry = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0)]
                let left = deadline - Monotonic.now
                guard left > 0, case .success(let ready) = DescriptorIO.poll(&entry, timeout: left), ready > 0 else {
                    return .failure(.timedOut)
                }
            }
            guard case .success(let count) = DescriptorIO.read(fd, into: &chunk), count > 0 else { return .failure(.closed) }
            buffer.append(contentsOf: chunk[0..<count])
        }
    }
}
