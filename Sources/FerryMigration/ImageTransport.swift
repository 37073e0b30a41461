import FerryCheckpoint
import FerryContainers
import FerryErrors
import FerrySystem
import Foundation

/// How CRIU's images leave the source and reach the target's restore.
///
/// The checkpoint writes into `withSourceImages` (and its pages into `openPages`' socket,
/// where the transport has one), the rollback restores the source from there, and
/// `deliver` brings the rest to the target. A transport is one row: a conformance here and
/// a case of `MigrationPlan.ImagePath`.
protocol ImageTransport: AnyObject {
    /// What the dry run and the summary call it.
    var name: String { get }
    /// Runs `body` with the source's images directory (made available first: a shared
    /// device is mounted for exactly as long as the body runs).
    func withSourceImages<T>(_ body: (String) throws(FerryError) -> T) throws(FerryError) -> T
    /// Before the freeze: the socket CRIU's dump sends its memory pages to as it reads
    /// them; nil: CRIU writes them into the images directory with the rest. `spool`: keep a
    /// copy of what leaves, for a rollback (the source's tasks die at the dump). `progress`
    /// hears the bytes that cross the wire from then on (pages and the images `deliver`
    /// sends), from whichever thread moves them.
    func openPages(
        _ agent: any AgentCalling, container: ContainerName, spool: Bool, progress: (@Sendable (TransferProgress) -> Void)?
    ) throws(FerryError) -> OwnedFileDescriptor?
    /// Whether the pages leave the source with its tasks still there to resume (frozen):
    /// then the dump need not kill them, and a rollback is a thaw.
    var sendsPagesAway: Bool { get }
    /// After the dump: makes the images available where the target restores from; returns
    /// the bytes that crossed the wire.
    func deliver(to prepared: AgentResponse.Prepared, target: SSHTarget) throws(FerryError) -> UInt64
    /// What the target's restore request names for the images (nil: its staged directory).
    var restoreLocation: AgentRequest.DumpLocation? { get }
    /// How the dump's files are fingerprinted for the target's check.
    var fingerprint: CheckpointManifest.Fingerprint { get }
    /// Ends whatever the transport has open (a failed or interrupted migration).
    func cancel()
}

/// The image stream (see ImageStream): the pages go to the target's page server while CRIU
/// dumps, the other images follow on the same connection, all under one MAC. The source
/// keeps its tasks frozen for a rollback, or (when they must die at the dump: the target
/// takes over the same device) the non-page images and a spool of the page stream.
final class StreamImageTransport: ImageTransport {
    let directory: String
    /// Post-copy: no page stream during the dump (the memory follows the restore, relayed
    /// on the same connection by `LazyDumpSession`).
    var postcopy = false
    private var sender: ImageStreamSender?
    private var key: [UInt8] = []
    var name: String { "image stream" }
    var fingerprint: CheckpointManifest.Fingerprint { .streamedPages }

    init(directory: String) {
        self.directory = directory
    }

    func withSourceImages<T>(_ body: (String) throws(FerryError) -> T) throws(FerryError) -> T {
        try body(directory)
    }

    var sendsPagesAway: Bool { true }

    func openPages(
        _ agent: any AgentCalling, container: ContainerName, spool: Bool, progress: (@Sendable (TransferProgress) -> Void)?
    ) throws(FerryError) -> OwnedFileDescriptor? {
        let key = try ImageStream.randomBytes(ImageStream.keyBytes)
        let reply = try agent.call(.openImageStream(.init(container: container.value, key: Data(key).base64EncodedString(), postcopy: postcopy ? true : nil)))
        guard let endpoint = reply.imageStream else {
            throw FerryError(.corrupt, "the target did not say where its image stream listens")
        }
        let sender = try ImageStreamSender(
            address: endpoint.address, port: endpoint.port, key: key, spoolPath: spool ? "\(directory)/\(ImageStream.spoolName)" : nil,
            progress: progress)
        self.sender = sender
        self.key = key
        if postcopy { return nil }
        sender.start()
        return sender.criuEnd
    }

    func deliver(to prepared: AgentResponse.Prepared, target: SSHTarget) throws(FerryError) -> UInt64 {
        guard let sender else { throw FerryError(.invalidState, "the image stream was not opened before the dump") }
        // The init's output goes along, outside the checksums (see ConsoleLog.carry).
        let files = try CheckpointManifest.contentFiles(of: directory) + [CheckpointManifest.fileName] + ConsoleLog.carried(in: directory)
        return try sender.finish(directory: directory, files: files)
    }

    var restoreLocation: AgentRequest.DumpLocation? { nil }

    /// After `deliver`: the post-copy relay takes the stream over.
    func relayPostcopy(_ session: LazyDumpSession, idleSeconds: Double) throws(FerryError) {
        guard let sender else { throw FerryError(.invalidState, "the image stream was not opened before the dump") }
        try session.startRelay(stream: sender.streamDescriptor, key: key, idleSeconds: idleSeconds)
    }

    func cancel() {
        sender?.cancel()
    }
}

/// Images on a device both hosts see (`--dump-dir-device`): nothing crosses the wire;
/// the source unmounts the device before the target mounts it.
final class DumpDeviceImageTransport: ImageTransport {
    let device: DumpDevice
    /// Where the source mounts the device while it writes or reads the images.
    let mountPoint: String
    var name: String { "dump device \(device.uuid)" }
    var fingerprint: CheckpointManifest.Fingerprint { .pagesBySize }

    init(device: DumpDevice, mountPoint: String) {
        self.device = device
        self.mountPoint = mountPoint
    }

    func withSourceImages<T>(_ body: (String) throws(FerryError) -> T) throws(FerryError) -> T {
        try device.withMounted(at: mountPoint) { (images) throws(FerryError) in
            try makeDirectories(String(images[..<(images.lastIndex(of: "/") ?? images.endIndex)]))
            return try body(images)
        }
    }

    var sendsPagesAway: Bool { false }

    /// Nothing crosses the wire: nothing to report.
    func openPages(
        _ agent: any AgentCalling, container: ContainerName, spool: Bool, progress: (@Sendable (TransferProgress) -> Void)?
    ) throws(FerryError) -> OwnedFileDescriptor? { nil }

    func deliver(to prepared: AgentResponse.Prepared, target: SSHTarget) throws(FerryError) -> UInt64 {
        0
    }

    /// The target removes them after its restore (unless asked to keep them).
    var restoreLocation: AgentRequest.DumpLocation? { .init(device) }

    func cancel() {}
}

extension MigrationPlan.ImagePath {
    /// The transport for this path: images in `imagesDirectory`, or on the device mounted
    /// at `dumpMountPoint`.
    func transport(imagesDirectory: String, dumpMountPoint: String) -> any ImageTransport {
        switch self {
        case .stream: StreamImageTransport(directory: imagesDirectory)
        case .dumpDevice(let device): DumpDeviceImageTransport(device: device, mountPoint: dumpMountPoint)
        }
    }

    init(_ dumpDevice: DumpDevice?) {
        self = dumpDevice.map { .dumpDevice($0) } ?? .stream
    }
}
