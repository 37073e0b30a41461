import FerryErrors
import FerrySystem
import Foundation

/// How CRIU's images leave the source and reach the target's restore.
///
/// The checkpoint writes into `withSourceImages`, the rollback restores the source from
/// there, and `deliver` brings them to the target. A faster memory transport (a page
/// server streaming pages while the container is frozen) is one more conformance.
protocol ImageTransport {
    /// What the dry run and the summary call it.
    var name: String { get }
    /// Runs `body` with the source's images directory (made available first: a shared
    /// device is mounted for exactly as long as the body runs).
    func withSourceImages<T>(_ body: (String) throws(FerryError) -> T) throws(FerryError) -> T
    /// After the dump: makes the images available where the target restores from; returns
    /// the bytes that crossed the wire.
    func deliver(to prepared: AgentResponse.Prepared, target: SSHTarget, progress: (@Sendable (TransferProgress) -> Void)?) throws(FerryError) -> UInt64
    /// What the target's restore request names for the images (nil: its staged directory).
    var restoreLocation: AgentRequest.DumpLocation? { get }
}

/// Images in the container's directory on the source, copied with rsync over the
/// migration's ssh connection.
struct RsyncImageTransport: ImageTransport {
    let directory: String
    var name: String { "rsync" }

    func withSourceImages<T>(_ body: (String) throws(FerryError) -> T) throws(FerryError) -> T {
        try body(directory)
    }

    func deliver(to prepared: AgentResponse.Prepared, target: SSHTarget, progress: (@Sendable (TransferProgress) -> Void)?) throws(FerryError) -> UInt64 {
        try Rsync.push(directory, to: prepared.images, target: target, exact: true, progress: progress)
    }

    var restoreLocation: AgentRequest.DumpLocation? { nil }
}

/// Images on a device both hosts see (`--dump-dir-device`): nothing crosses the wire;
/// the source unmounts the device before the target mounts it.
struct DumpDeviceImageTransport: ImageTransport {
    let device: DumpDevice
    /// Where the source mounts the device while it writes or reads the images.
    let mountPoint: String
    var name: String { "dump device \(device.uuid)" }

    func withSourceImages<T>(_ body: (String) throws(FerryError) -> T) throws(FerryError) -> T {
        try device.withMounted(at: mountPoint) { (images) throws(FerryError) in
            try makeDirectories(String(images[..<(images.lastIndex(of: "/") ?? images.endIndex)]))
            return try body(images)
        }
    }

    func deliver(to prepared: AgentResponse.Prepared, target: SSHTarget, progress: (@Sendable (TransferProgress) -> Void)?) throws(FerryError) -> UInt64 {
        0
    }

    /// The target removes them after its restore (unless asked to keep them).
    var restoreLocation: AgentRequest.DumpLocation? { .init(device) }
}

extension MigrationPlan.ImagePath {
    /// The transport for this path: images in `imagesDirectory`, or on the device mounted
    /// at `dumpMountPoint`.
    func transport(imagesDirectory: String, dumpMountPoint: String) -> any ImageTransport {
        switch self {
        case .rsync: RsyncImageTransport(directory: imagesDirectory)
        case .dumpDevice(let device): DumpDeviceImageTransport(device: device, mountPoint: dumpMountPoint)
        }
    }

    init(_ dumpDevice: DumpDevice?) {
        self = dumpDevice.map { .dumpDevice($0) } ?? .rsync
    }
}
