import FerryContainers
import FerryErrors
import FerrySystem
import Foundation
import Glibc

/// The file `checkpoint --export` writes and `restore --import` reads: one tar (zstd when
/// its name ends in .zst) holding, in this order,
///
///     ferry-export.json   this record: the format and the sha256 of the two files below
///     checkpoint/         the checkpoint as `ferry checkpoint` leaves it (its manifest
///                         holds the container's config and the images' checksums)
///     private.tar         the private area's contents (the rootfs, or an overlay's upper
///                         and work directories), with owners, modes, xattrs and ACLs
///
/// The private area is a tar of its own so that one checksum covers it; every other file
/// is covered by the checkpoint's manifest, whose own checksum is here. So every byte that
/// decides what is restored is checked before anything is created.
public struct ExportArchive: Sendable, Codable {
    /// Bumped on incompatible changes; a newer archive is refused, not guessed at.
    public static let currentFormat = 1
    static let recordName = "ferry-export.json"
    static let checkpointName = "checkpoint"
    static let privateName = "private.tar"

    public var format: Int
    public var createdAt: Date
    /// sha256 of `private.tar`.
    public var privateArea: String
    /// sha256 of `checkpoint/ferry-manifest.json`.
    public var manifest: String

    /// How the archive is compressed, from its name: what an admin would guess from it.
    enum Compression {
        case none, zstd

        init(file: String) throws(FerryError) {
            if file.hasSuffix(".tar") {
                self = .none
            } else if file.hasSuffix(".tar.zst") || file.hasSuffix(".tzst") {
                self = .zstd
            } else {
                throw FerryError(.invalidArgument, "export file '\(file)' must end in .tar, .tar.zst or .tzst")
            }
        }

        var tarOptions: [String] { self == .zstd ? ["--zstd"] : [] }
    }

    /// What tar keeps of each file in the private area: numeric owners (the container's
    /// users are not this host's), sparse files as holes, xattrs of every namespace
    /// (an overlay's `trusted.overlay.*` marks) and ACLs.
    static let treeOptions = ["--numeric-owner", "--sparse", "--xattrs", "--xattrs-include=*", "--acls"]

    /// Packs the private area's contents into `archive`.
    static func packTree(_ directory: String, into archive: String) throws(FerryError) {
        try Spawn.check(["tar", "-cf", archive, "-C", directory] + treeOptions + ["."], "cannot archive the private area \(directory)")
    }

    /// Unpacks a private area's contents (with owners and modes as they were).
    static func unpackTree(_ archive: String, into directory: String) throws(FerryError) {
        try Spawn.check(["tar", "-xpf", archive, "-C", directory] + treeOptions, "cannot unpack the private area into \(directory)")
    }

    /// sha256 of one file.
    static func checksum(_ path: String) throws(FerryError) -> String {
        let output = try Spawn.check(["sha256sum", "--", path], "cannot checksum \(path)").stdout
        return String(output.prefix { $0 != " " })
    }

    /// An absolute path for a file the admin named (relative to the working directory).
    static func absolute(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }
}
