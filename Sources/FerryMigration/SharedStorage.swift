import FerryContainers
import FerryErrors
import FerrySystem
import Foundation
import Glibc

/// Finding out whether the target sees the very device the source's private area is on
/// (a SAN LUN, say), so that no data needs copying.
///
/// Never by path name: the target looks the filesystem up by its UUID, and then reads a
/// fresh random token straight from the device at the byte offset where the source's
/// kernel placed a marker file. A clone of the filesystem, or another device with the same
/// UUID, does not hold that token there.
public struct SharedStorageProbe: Codable, Sendable, Equatable {
    public var uuid: String
    public var token: String
    /// Byte offset of the marker's data on the device.
    public var offset: UInt64

    static let markerName = ".ferry-shared-storage-marker"

    /// Writes a marker into the (mounted) filesystem at `mountPoint` on `device`.
    static func make(device: String, mountPoint: String) throws(FerryError) -> SharedStorageProbe {
        let uuid = try Spawn.check(["blkid", "-s", "UUID", "-o", "value", device], "cannot read the filesystem UUID of \(device)")
            .stdout.trimmingNewline
        guard !uuid.isEmpty else { throw FerryError(.invalidState, "\(device) has no filesystem UUID") }
        let token = (0..<4).map { _ in String(UInt64.random(in: 0...UInt64.max), radix: 16) }.joined()
        let path = "\(mountPoint)/\(markerName)"
        let fd = try OwnedFileDescriptor.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
        try fd.write(token)
        // The data must be on the device, in place, before the target reads it raw.
        try syscall("fsync", path: path) { fsync(fd.rawValue) }
        fd.close()
        let offset = try physicalOffset(of: path)
        return SharedStorageProbe(uuid: uuid, token: token, offset: offset)
    }

    /// Where the file's first block lies on the device, from the kernel's extent map.
    static func physicalOffset(of path: String) throws(FerryError) -> UInt64 {
        let output = try Spawn.check(["filefrag", "-v", "-b1", path], "cannot map \(path) to device blocks").stdout
        // "   0:        0..    4095:   142606336..  142610431:   4096:   last,eof"
        for line in output.split(separator: "\n") where line.trimmingCharacters(in: .whitespaces).hasPrefix("0:") {
            let fields = line.split(separator: ":")
            if fields.count > 2, let start = fields[2].split(separator: ".").first.flatMap({ UInt64($0.trimmingCharacters(in: .whitespaces)) }) {
                return start
            }
        }
        throw FerryError(.invalidState, "cannot find the device offset of \(path) in filefrag's output")
    }

    /// On the target: the device holding this filesystem with the token in place, if any.
    func locate() -> String? {
        guard let device = try? Spawn.run(["blkid", "-U", uuid]).stdout.trimmingNewline, !device.isEmpty,
            let bytes = try? BlockDevice.readUncached(device, at: offset, count: token.utf8.count)
        else { return nil }
        return String(decoding: bytes, as: UTF8.self) == token ? device : nil
    }

    static func removeMarker(mountPoint: String) {
        unlink("\(mountPoint)/\(markerName)")
    }
}
