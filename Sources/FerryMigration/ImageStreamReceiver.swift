import FerryCRIU
import FerryCheckpoint
import FerryErrors
import FerrySystem
import Glibc
import Logging

/// The target's end of the image stream (see ImageStream): it listens for the source,
/// checks its proof, feeds the page frames to a CRIU page server that writes the pagemap
/// and pages images, writes the other image files itself, and checks the MAC at the end.
/// `verdict` is what the restore request waits for: nothing is restored from a stream
/// that was not whole and authentic.
final class ImageStreamReceiver: @unchecked Sendable {
    let port: UInt16
    private let listener: OwnedFileDescriptor
    /// The stream's key: a post-copy's relay tags its frames with it too.
    let key: [UInt8]
    private var connection: OwnedFileDescriptor?
    private var work: BackgroundTask<Void>?

    /// Listens on `address` and serves one authenticated source into `imagesDirectory`.
    /// `postcopy`: no page stream comes (no page server is started), and the connection
    /// stays open after the verdict for the post-copy relay (`postcopyStream`).
    init(
        address: String, key: [UInt8], imagesDirectory: String, workDirectory: String, engine: CRIUEngine, postcopy: Bool = false, logger: Logger
    ) throws(FerryError) {
        self.key = key
        (listener, port) = try TCPSocket.listen(on: address)
        let images = try OwnedFileDescriptor.open(imagesDirectory, O_RDONLY | O_DIRECTORY)
        let workFD = try OwnedFileDescriptor.open(workDirectory, O_RDONLY | O_DIRECTORY)
        let logPath = "\(workDirectory)/page-server.log"
        work = BackgroundTask("ferry image stream receiver") { [self] () throws(FerryError) in
            let (socket, nonce) = try acceptSource(key: key)
            let pageServer = postcopy ? nil : try startPageServer(images: images, work: workFD, logPath: logPath, engine: engine)
            try receive(socket, key: key, nonce: nonce, images: images, imagesPath: imagesDirectory, pageServer: pageServer, logger: logger)
        }
    }

    /// Waits for the stream's end and its verdict; throws unless it was whole and authentic.
    func verdict(within seconds: Double) throws(FerryError) {
        guard let work else { throw FerryError(.invalidState, "no image stream was opened") }
        try work.value(within: seconds, what: "the image stream")
    }

    /// The connection, once the verdict was given, for the post-copy relay.
    var postcopyStream: Int32? { connection?.rawValue }

    /// Stops listening and breaks a stream in progress (an abort, a source gone).
    func cancel() {
        TCPSocket.shutdown(listener)
        if let connection { TCPSocket.shutdown(connection) }
    }

    /// The first connection that proves it holds the key (others are dropped), and the
    /// nonce it answered.
    private func acceptSource(key: [UInt8]) throws(FerryError) -> (OwnedFileDescriptor, [UInt8]) {
        let deadline = Monotonic.now + ImageStream.idleSeconds
        while Monotonic.now < deadline {
            guard let socket = try TCPSocket.accept(listener, within: deadline - Monotonic.now) else { break }
            let io = StreamIO(fd: socket.rawValue)
            guard let nonce = try? ImageStream.randomBytes(ImageStream.nonceBytes) else { continue }
            guard (try? io.write(nonce)) != nil, let answer = try? io.read(ImageStream.macBytes),
                Digest.equalInConstantTime(answer, try ImageStream.proof(key: key, nonce: nonce))
            else { continue }
            TCPSocket.setSendTimeout(socket, seconds: ImageStream.stallSeconds)
            connection = socket
            listener.close()
            return (socket, nonce)
        }
        throw FerryError(.timedOut, "no source opened the image stream within \(Int(ImageStream.idleSeconds)) s")
    }

    private struct PageServer {
        var feed: OwnedFileDescriptor
        var task: BackgroundTask<Void>
    }

    private func startPageServer(
        images: OwnedFileDescriptor, work: OwnedFileDescriptor, logPath: String, engine: CRIUEngine
    ) throws(FerryError) -> PageServer {
        let (feed, criuEnd) = try TCPSocket.streamPair()
        let request = CRIUClient.PageServerRequest(imagesDirectory: images, workDirectory: work, logPath: logPath, socket: criuEnd)
        let task = BackgroundTask("ferry page server") { () throws(FerryError) in
            try CRIUClient(engine: engine).servePages(request)
        }
        return PageServer(feed: feed, task: task)
    }

    /// Reads frames until `end`, answers the verdict, and throws unless it is `accepted`.
    private func receive(
        _ socket: OwnedFileDescriptor, key: [UInt8], nonce: [UInt8], images: OwnedFileDescriptor, imagesPath: String, pageServer: PageServer?,
        logger: Logger
    ) throws(FerryError) {
        let io = StreamIO(fd: socket.rawValue)
        let mac = try Digest(key: key)
        // The nonce binds the MAC to this connection: a recorded stream replayed to another
        // listener does not verify.
        mac.update(nonce)
        var buffer = [UInt8](repeating: 0, count: ImageStream.blockBytes)
        var file: (name: String, fd: OwnedFileDescriptor, size: UInt64)?
        var verdict = ImageStream.Verdict.accepted
        var ackBuffer = [UInt8](repeating: 0, count: 4096)
        var serverDone = pageServer == nil
        receiving: while true {
            // The page server's acknowledgements go back raw as they come.
            var entries = [
                pollfd(fd: socket.rawValue, events: Int16(POLLIN), revents: 0),
                pollfd(fd: serverDone ? -1 : pageServer?.feed.rawValue ?? -1, events: Int16(POLLIN), revents: 0),
            ]
            guard case .success(let ready) = DescriptorIO.poll(&entries, timeout: ImageStream.idleSeconds), ready > 0 else {
                throw FerryError(.timedOut, "the image stream went silent for \(Int(ImageStream.idleSeconds)) s")
            }
            if entries[1].revents != 0, let pageServer {
                if case .success(let count) = DescriptorIO.read(pageServer.feed.rawValue, into: &ackBuffer), count > 0 {
                    try io.write(Array(ackBuffer[..<count]))
                } else {
                    // The page server is done (its last answer went back already): the
                    // files and the MAC still follow on the socket.
                    serverDone = true
                }
            }
            guard entries[0].revents != 0 else { continue }
            let header = try io.read(5)
            guard let (kind, length) = ImageStream.decodeHeader(header), length <= ImageStream.blockBytes else {
                throw FerryError(.corrupt, "the image stream carries a record Ferry does not know (\(header))")
            }
            if kind == .end {
                let theirs = try io.read(ImageStream.macBytes)
                if !Digest.equalInConstantTime(theirs, mac.finish()) { verdict = .macMismatch }
                break receiving
            }
            try io.read(length, into: &buffer)
            mac.update(header)
            buffer.withUnsafeBytes { mac.update(UnsafeRawBufferPointer(rebasing: $0[..<length])) }
            switch kind {
            case .pages:
                guard let pageServer else { verdict = .badFile; continue }
                if case .failure(let errno) = DescriptorIO.writeAll(pageServer.feed.rawValue, buffer[..<length]) {
                    // The page server is gone; the frames still count toward the MAC.
                    logger.warning("the page server stopped reading", metadata: ["error": "\(errno)"])
                    verdict = .pageServerFailed
                }
            case .open:
                let name = String(decoding: buffer[..<length], as: UTF8.self)
                guard file == nil, ImageStream.isSafeFileName(name) else { verdict = .badFile; continue }
                // CRIU's own mode for images (CR_FD_PERM): a `--userns` restore reads some of
                // them from inside the user namespace, where the host's root is nobody. (The
                // staging directory above them lists nothing to the host's other users.)
                let fd = try syscall("openat", path: name) { openat(images.rawValue, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644) }
                file = (name, OwnedFileDescriptor(taking: fd), 0)
            case .data:
                guard let open = file else { verdict = .badFile; continue }
                if case .failure(let errno) = DescriptorIO.writeAll(open.fd.rawValue, buffer[..<length]) {
                    throw FerryError.system("write", errno, path: open.name)
                }
                file?.size += UInt64(length)
            case .close:
                guard let open = file, length == 8, ImageStream.decodeBigEndian(Array(buffer[..<8])) == open.size else {
                    verdict = .badFile
                    file = nil
                    continue
                }
                file = nil
            case .end:
                break receiving
            }
        }
        // The page server has had its FORCE_CLOSE by now (or never will): its exit decides.
        pageServer?.feed.close()
        if let pageServer, case .failure(let error)? = pageServer.task.wait(within: ImageStream.idleSeconds) ?? .failure(FerryError(.timedOut, "the page server did not end")) {
            logger.warning("the page server failed", metadata: ["error": "\(error.message)"])
            if verdict == .accepted { verdict = .pageServerFailed }
        }
        if file != nil, verdict == .accepted { verdict = .badFile }
        guard verdict == .accepted else {
            try? io.write([verdict.rawValue])
            throw FerryError(.corrupt, "the images did not arrive whole: \(verdict.explanation)")
        }
        do throws(FerryError) {
            try CheckpointManifest.recordArrivedPages(directory: imagesPath)
        } catch {
            try? io.write([ImageStream.Verdict.badFile.rawValue])
            throw error
        }
        try? io.write([verdict.rawValue])
    }
}
