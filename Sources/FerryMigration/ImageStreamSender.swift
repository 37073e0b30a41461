import FerryCRIU
import FerryErrors
import FerrySystem
import Glibc

/// The source's end of the image stream (see ImageStream): it relays CRIU's page stream
/// to the target while CRIU dumps, then sends the other images and the MAC.
///
/// When the source's tasks die at the dump, every page block also goes to a spool file
/// beside the images (page cache, no fsync): the pages leave the source only once, yet a
/// rollback can rebuild the source's page images from the spool (`PageSpool`) and restore
/// the container here. A source kept frozen needs none: its memory is still in its tasks.
final class ImageStreamSender: @unchecked Sendable {
    private let socket: OwnedFileDescriptor
    private let mac: Digest
    /// Ferry's end of the pair whose other end CRIU writes the page stream into.
    private let relayEnd: OwnedFileDescriptor
    /// CRIU's end, handed to the dump (it uses it by number); closed once CRIU is done.
    private(set) var criuEnd: OwnedFileDescriptor?
    /// Opened at CRIU's first byte: by then the checkpoint has made its images directory.
    private let spoolPath: String?
    private var spool: OwnedFileDescriptor?
    private var relay: BackgroundTask<UInt64>?
    /// The connection, for the post-copy relay once `finish` has the target's verdict.
    var streamDescriptor: Int32 { socket.rawValue }
    /// Bytes sent so far on the socket, frames included.
    private(set) var sentBytes: UInt64 = 0
    /// Hears the bytes sent (a few times a second), from the relay's thread and then the
    /// caller's of `finish`, one after the other.
    private let progress: (@Sendable (TransferProgress) -> Void)?
    private var throttle = ProgressThrottle()
    /// When the first frame went: the rate is over the time the stream has been sending.
    private var firstFrameAt: Double?

    /// Connects to the agent's listener and proves it holds `key`.
    init(
        address: String, port: UInt16, key: [UInt8], spoolPath: String?, progress: (@Sendable (TransferProgress) -> Void)? = nil
    ) throws(FerryError) {
        self.progress = progress
        socket = try TCPSocket.connect(to: address, port: port, within: 10)
        TCPSocket.setSendTimeout(socket, seconds: ImageStream.stallSeconds)
        let io = StreamIO(fd: socket.rawValue)
        let nonce = try io.read(ImageStream.nonceBytes)
        try io.write(try ImageStream.proof(key: key, nonce: nonce))
        mac = try Digest(key: key)
        mac.update(nonce)
        (relayEnd, criuEnd) = try TCPSocket.streamPair()
        self.spoolPath = spoolPath
    }

    /// Starts relaying: from now on CRIU may write its page stream into `criuEnd`.
    func start() {
        relay = BackgroundTask("ferry image stream") { [self] () throws(FerryError) -> UInt64 in
            do throws(FerryError) {
                return try relayPages()
            } catch {
                // CRIU must not wait for acknowledgements that will never come: its writes
                // and reads fail now, and its dump with them.
                cancel()
                throw error
            }
        }
    }

    /// Once CRIU has dumped: waits for the page stream's end, sends `files` (names in
    /// `directory`), the MAC, and returns the bytes sent after the target's verdict.
    func finish(directory: String, files: [String]) throws(FerryError) -> UInt64 {
        criuEnd?.close()
        criuEnd = nil
        // A post-copy dump sends no page stream: its memory follows the restore.
        if let relay { _ = try relay.value(within: ImageStream.idleSeconds, what: "the page stream") }
        let io = StreamIO(fd: socket.rawValue)
        var buffer = [UInt8](repeating: 0, count: ImageStream.blockBytes)
        for name in files {
            try sendFrame(.open, Array(name.utf8), io)
            let file = try OwnedFileDescriptor.open("\(directory)/\(name)", O_RDONLY)
            var size: UInt64 = 0
            while true {
                guard case .success(let count) = DescriptorIO.read(file.rawValue, into: &buffer) else {
                    throw FerryError(.commandFailed, "cannot read image \(directory)/\(name)")
                }
                if count == 0 { break }
                try sendFrame(.data, buffer[..<count], io)
                size += UInt64(count)
            }
            try sendFrame(.close, ImageStream.bigEndian(size), io)
        }
        let header = ImageStream.header(.end, length: ImageStream.macBytes)
        try io.write(header + mac.finish())
        sentBytes += UInt64(header.count + ImageStream.macBytes)
        let answer = try io.read(1)
        guard let verdict = ImageStream.Verdict(rawValue: answer[0]), verdict == .accepted else {
            let why = ImageStream.Verdict(rawValue: answer[0])?.explanation ?? "the target sent verdict \(answer[0])"
            throw FerryError(.corrupt, "the target refused the images: \(why)")
        }
        let total = Int(clamping: sentBytes)
        progress?(TransferProgress(bytes: total, totalBytes: total, bytesPerSecond: rate(now: Monotonic.now), secondsLeft: 0))
        return sentBytes
    }

    /// Ends the stream at once (a failed or interrupted migration): both relays see an error.
    func cancel() {
        TCPSocket.shutdown(socket)
        TCPSocket.shutdown(relayEnd)
    }

    /// CRIU's bytes to the target as page frames (and to the spool); the target's raw
    /// acknowledgements back to CRIU. Ends at CRIU's end of file.
    private func relayPages() throws(FerryError) -> UInt64 {
        let io = StreamIO(fd: socket.rawValue)
        var buffer = [UInt8](repeating: 0, count: ImageStream.blockBytes)
        var relayed: UInt64 = 0
        while true {
            var entries = [
                pollfd(fd: relayEnd.rawValue, events: Int16(POLLIN), revents: 0),
                pollfd(fd: socket.rawValue, events: Int16(POLLIN), revents: 0),
            ]
            guard case .success(let ready) = DescriptorIO.poll(&entries, timeout: CRIUStreamLimits.dumpSeconds), ready > 0 else {
                throw FerryError(.timedOut, "CRIU sent no page for \(Int(CRIUStreamLimits.dumpSeconds)) s")
            }
            if entries[1].revents != 0 {
                // Acknowledgements from the target's page server, raw, for CRIU.
                switch DescriptorIO.read(socket.rawValue, into: &buffer) {
                case .success(0): throw FerryError(.commandFailed, "the target closed the image stream while CRIU was dumping")
                case .success(let count):
                    if case .failure(let errno) = DescriptorIO.writeAll(relayEnd.rawValue, buffer[..<count]) {
                        throw FerryError.system("write(criu page stream)", errno)
                    }
                case .failure(let errno): throw FerryError(.commandFailed, "the image stream broke: \(errno)")
                }
            }
            if entries[0].revents != 0 {
                switch DescriptorIO.read(relayEnd.rawValue, into: &buffer) {
                case .success(0): return relayed
                case .success(let count):
                    if spool == nil, let spoolPath { spool = try OwnedFileDescriptor.open(spoolPath, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600) }
                    if let spool, case .failure(let errno) = DescriptorIO.writeAll(spool.rawValue, buffer[..<count]) {
                        throw FerryError.system("write", errno, path: ImageStream.spoolName)
                    }
                    if relayed > 0, FailurePoint.asks("image-stream", "truncate") {
                        // A test's stream cut short after its first block.
                        _ = Glibc.shutdown(socket.rawValue, Int32(SHUT_WR))
                        throw FerryError(.commandFailed, "image-stream truncated (injected by FERRY_FAIL_AT)")
                    }
                    try sendFrame(.pages, buffer[..<count], io, damaged: relayed == 0 && FailurePoint.asks("image-stream", "corrupt"))
                    relayed += UInt64(count)
                case .failure(.connectionReset):
                    // CRIU exited with bytes it never read in its queue (answers it did not
                    // need): its stream is over all the same. Whether it was whole is the
                    // target's page server's and the MAC's to say.
                    return relayed
                case .failure(let errno): throw FerryError.system("read(criu page stream)", errno)
                }
            }
        }
    }

    /// One frame, MAC'd as it goes. `damaged`: a test's corruption on the wire, after the
    /// MAC was taken (one byte flipped in the middle of the payload).
    private func sendFrame(_ kind: ImageStream.Kind, _ payload: ArraySlice<UInt8>, _ io: StreamIO, damaged: Bool = false) throws(FerryError) {
        let header = ImageStream.header(kind, length: payload.count)
        mac.update(header)
        payload.withUnsafeBytes { mac.update($0) }
        try io.write(header)
        var sent = payload
        if damaged, !sent.isEmpty {
            let middle = sent.startIndex + sent.count / 2
            sent[middle] ^= 0x01
        }
        try io.write(sent)
        sentBytes += UInt64(header.count + payload.count)
        report()
    }

    /// The bytes so far, when a report is due; the total is not known before the end.
    private func report() {
        guard let progress else { return }
        let now = Monotonic.now
        if firstFrameAt == nil { firstFrameAt = now }
        let update = TransferProgress(bytes: Int(clamping: sentBytes), bytesPerSecond: rate(now: now))
        if let due = throttle.offer(update, now: now) { progress(due) }
    }

    private func rate(now: Double) -> Double? {
        guard let firstFrameAt, now > firstFrameAt else { return nil }
        return Double(sentBytes) / (now - firstFrameAt)
    }

    private func sendFrame(_ kind: ImageStream.Kind, _ payload: [UInt8], _ io: StreamIO) throws(FerryError) {
        try sendFrame(kind, payload[...], io)
    }
}

/// How long a relay waits on CRIU: its dump's own watchdog.
enum CRIUStreamLimits {
    static var dumpSeconds: Double { CRIUClient.defaultWatchdogSeconds }
}
