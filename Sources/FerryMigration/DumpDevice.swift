import FerryContainers
import FerryErrors
import FerrySystem
import Glibc

/// `--dump-dir-device`: CRIU's images go to a filesystem on a device both hosts can mount,
/// instead of over the wire. One host mounts it at a time; the target finds the device by
/// its filesystem UUID, never by path, and the images directory name carries a random
/// token, so it cannot pick up another migration's images.
public struct DumpDevice: Codable, Sendable, Equatable {
    public var uuid: String
    /// The images directory, relative to the device's root.
    public var directory: String

    /// A fresh images location on `device` for container `name`.
    static func prepare(device: String, name: ContainerName) throws(FerryError) -> DumpDevice {
        let uuid = try Spawn.check(["blkid", "-s", "UUID", "-o", "value", device], "cannot read the filesystem UUID of dump device \(device)")
            .stdout.trimmingNewline
        guard !uuid.isEmpty else {
            throw FerryError(.invalidArgument, "dump device \(device) holds no filesystem; make one (e.g. mkfs.ext4) first")
        }
        let token = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        return DumpDevice(uuid: uuid, directory: "ferry-images/\(name.value)-\(token)")
    }

    /// Mounts the device (found by UUID) at `mountPoint`, runs `body`, unmounts.
    func withMounted<T>(at mountPoint: String, _ body: (String) throws(FerryError) -> T) throws(FerryError) -> T {
        let device = try Spawn.check(["blkid", "-U", uuid], "no device with filesystem UUID \(uuid) (the dump device) on this host")
            .stdout.trimmingNewline
        let type = try Spawn.check(["blkid", "-s", "TYPE", "-o", "value", device], "cannot read the filesystem type of \(device)")
            .stdout.trimmingNewline
        try makeDirectories(mountPoint, mode: 0o700)
        try PrivateArea.refuseIfMounted(device: device)
        try Mounts.mount(source: device, target: mountPoint, type: type, flags: [])
        defer {
            try? Mounts.unmount(mountPoint)
            rmdir(mountPoint)
        }
        return try body("\(mountPoint)/\(directory)")
    }
}
