import FerryCRIU
import FerryContainers
import FerryErrors
import FerryMounts
import FerrySystem
import Foundation

/// Ferry's own record in an image directory, next to CRIU's images: what was checkpointed,
/// how its mounts looked, which external mounts map to which keys, and a checksum of every
/// file so a damaged or swapped directory is refused before CRIU sees it.
public struct CheckpointManifest: Sendable, Codable {
    public static let fileName = CheckpointUse.manifestFileName
    /// Written (durably) before CRIU dumps, without checksums and stats: if Ferry dies
    /// after CRIU has dumped and killed the tasks, but before `fileName` is written, this
    /// and CRIU's own log are enough to finish the record and restore (`completeInterrupted`).
    public static let pendingFileName = "ferry-manifest.pending.json"
    /// Bumped on incompatible changes; a newer manifest is refused, not guessed at.
    public static let currentFormat = 1

    public var format: Int
    public var container: ContainerConfig
    public var createdAt: Date
    public var mounts: MountTreeCapture
    public var externals: [ExternalMount]
    public var stats: CRIUStats
    /// sha256 of every file in the directory except this manifest, CRIU's logs and the
    /// files in `sizes`.
    public var checksums: [String: String]
    /// Files known by their size only (see Fingerprint.pagesBySize); nil: none.
    public var sizes: [String: UInt64]?
    /// The memory pages (pagemap-N.img, pages-N.img) went to a page server as CRIU dumped
    /// them and are not in `checksums`: the image stream's MAC vouched for them on the
    /// target, and the source's spool rebuilds them for a rollback. nil: not streamed.
    public var streamedPages: Bool?

    /// How a checkpoint's files are fingerprinted for `verify`.
    public enum Fingerprint: Sendable {
        /// Every file by sha256: a local checkpoint, whose images wait on disk for as long
        /// as the admin likes.
        case everyFile
        /// CRIU's memory pages by size, the rest by sha256: a migration's images, which
        /// cross under rsync's own whole-file checksum (computed in the same pass as the
        /// transfer) and are restored seconds later. A second pass over every page in the
        /// frozen window cost as much as CRIU's whole dump (0.8 s at 256 MiB, twice).
        case pagesBySize
        /// The memory pages went out on the image stream (never written here); the rest
        /// by sha256, in process.
        case streamedPages

        func bySize(_ file: String) -> Bool {
            switch self {
            case .everyFile, .streamedPages: false
            case .pagesBySize: file.hasPrefix("pages-") && file.hasSuffix(".img")
            }
        }
    }

    /// CRIU's memory images: what a page server writes.
    static func isPageImage(_ file: String) -> Bool {
        (file.hasPrefix("pages-") || file.hasPrefix("pagemap-")) && file.hasSuffix(".img")
    }

    /// The source's copy of a streamed dump's page stream (see `streamedPages`).
    public static let pageSpoolName = "page-stream.spool"
    /// The container's cgroups below its own, per hierarchy (CgroupSet.tree); nil in
    /// manifests written before they were recorded.
    public var cgroups: [String: [String]]?
    /// The init's console pipes as CRIU names them (from run.json); nil in manifests from
    /// before the monitor owned them.
    public var console: ConsoleKeys?

    public init(
        format: Int, container: ContainerConfig, createdAt: Date, mounts: MountTreeCapture, externals: [ExternalMount], stats: CRIUStats,
        checksums: [String: String], cgroups: [String: [String]]? = nil
    ) {
        self.format = format
        self.container = container
        self.createdAt = createdAt
        self.mounts = mounts
        self.externals = externals
        self.stats = stats
        self.checksums = checksums
        self.cgroups = cgroups
    }

    /// A host file or directory bound into the container, dumped by CRIU as an external
    /// mount under `key` and re-attached from the (possibly moved) host path at restore.
    public struct ExternalMount: Sendable, Codable, Equatable {
        public var key: String
        public var containerPath: String
        public var hostSource: String
        public var isDirectory: Bool
    }

    /// Files that are not part of the checkpoint's content.
    static let unchecked: Set<String> = [
        fileName, fileName + ".tmp", pendingFileName, pendingFileName + ".tmp", "stats-restore", "restore.log", "dump.log",
        // The init's output, carried along for the log's sake (see ConsoleLog.carry).
        ConsoleLog.fileName, ConsoleLog.previousFileName,
        CheckpointUse.fileName, CheckpointUse.fileName + ".tmp", pageSpoolName,
    ]

    public static func read(from directory: String, expecting name: ContainerName?) throws(FerryError) -> CheckpointManifest {
        let path = "\(directory)/\(fileName)"
        guard access(path, F_OK) == 0 else {
            throw FerryError(.notFound, "\(directory) holds no Ferry checkpoint (\(fileName) is missing)")
        }
        let manifest: CheckpointManifest
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            // Read the format first: a newer manifest may not decode as this version's type.
            struct Header: Decodable { var format: Int }
            let header = try decoder.decode(Header.self, from: data)
            guard header.format <= currentFormat else {
                throw FerryError(
                    .corrupt,
                    "checkpoint in \(directory) has manifest format \(header.format), newer than this Ferry understands (\(currentFormat)); upgrade Ferry")
            }
            manifest = try decoder.decode(CheckpointManifest.self, from: data)
        } catch let error as FerryError {
            throw error
        } catch {
            throw FerryError(.corrupt, "checkpoint manifest \(path) is corrupt", cause: .error(error))
        }
        if let name, manifest.container.name != name {
            throw FerryError(
                .invalidArgument,
                "checkpoint in \(directory) is of container \(manifest.container.name), not \(name)")
        }
        return manifest
    }

    public func write(to directory: String) throws(FerryError) {
        try JSONFile.write(self, to: "\(directory)/\(Self.fileName)", durable: true)
        unlink("\(directory)/\(Self.pendingFileName)")
    }

    /// The record as it stands before the dump (no checksums or stats yet).
    public func writePending(to directory: String) throws(FerryError) {
        try JSONFile.write(self, to: "\(directory)/\(Self.pendingFileName)", durable: true)
    }

    /// The line CRIU's log ends a complete dump with.
    static let dumpFinished = "Dumping finished successfully"

    /// Finishes the record of a dump that CRIU completed but Ferry did not (it died in
    /// between): only when the pending record is there and CRIU's log says the dump
    /// finished. Returns whether the directory now holds a complete checkpoint.
    public static func completeInterrupted(directory: String, workDirectory: String) -> Bool {
        if access("\(directory)/\(fileName)", F_OK) == 0 { return true }
        guard let pending = try? JSONFile.read(CheckpointManifest.self, from: "\(directory)/\(pendingFileName)", what: "pending manifest"),
            let log = try? readText("\(workDirectory)/dump.log"), log.contains(dumpFinished)
        else { return false }
        var manifest = pending
        if let bytes = try? OwnedFileDescriptor.open("\(workDirectory)/stats-dump", O_RDONLY).readAll() {
            try? manifest.stats.merge(image: bytes)
        }
        guard let sums = try? checksums(of: directory) else { return false }
        manifest.checksums = sums
        return (try? manifest.write(to: directory)) != nil
    }

    /// Records the fingerprints of the directory's files, as `fingerprint` says.
    public mutating func fingerprint(_ directory: String, _ fingerprint: Fingerprint) throws(FerryError) {
        let files = try Self.contentFiles(of: directory)
        if case .streamedPages = fingerprint { streamedPages = true }
        let bySize = files.filter(fingerprint.bySize)
        checksums = try Self.checksums(of: directory, files: files.filter { !fingerprint.bySize($0) })
        sizes = bySize.isEmpty ? nil : Dictionary(uniqueKeysWithValues: bySize.map { ($0, Self.size(of: "\(directory)/\($0)") ?? 0) })
    }

    /// On the target, once a streamed dump arrived whole (its MAC checked): the page images
    /// the page server wrote are recorded by size, so damage to them at rest before the
    /// restore (a truncated file) is refused like damage to any other image.
    public static func recordArrivedPages(directory: String) throws(FerryError) {
        var manifest = try read(from: directory, expecting: nil)
        guard manifest.streamedPages == true else { return }
        var sizes = manifest.sizes ?? [:]
        for file in try contentFiles(of: directory) where isPageImage(file) {
            sizes[file] = size(of: "\(directory)/\(file)") ?? 0
        }
        manifest.sizes = sizes
        try manifest.write(to: directory)
    }

    /// Compares the directory with the recorded fingerprints; names every file that differs.
    public func verify(directory: String) throws(FerryError) {
        // Streamed pages were vouched for by the stream's MAC (or rebuilt from the spool);
        // those the target recorded on arrival are checked by size like any others.
        let sizes = sizes ?? [:]
        let present = Set(try Self.contentFiles(of: directory)).filter { !(streamedPages == true && Self.isPageImage($0) && sizes[$0] == nil) }
        let actual = try Self.checksums(of: directory, files: present.filter { sizes[$0] == nil }.sorted())
        var problems: [String] = []
        for (file, sum) in checksums.sorted(by: { $0.key < $1.key }) {
            guard let found = actual[file] else {
                problems.append("\(file) is missing")
                continue
            }
            if found != sum { problems.append("\(file) is corrupt (checksum differs)") }
        }
        for (file, size) in sizes.sorted(by: { $0.key < $1.key }) {
            guard present.contains(file) else {
                problems.append("\(file) is missing")
                continue
            }
            let found = Self.size(of: "\(directory)/\(file)") ?? 0
            if found != size { problems.append("\(file) is truncated or grown (\(found) bytes, \(size) expected)") }
        }
        for file in present.sorted() where checksums[file] == nil && sizes[file] == nil {
            problems.append("\(file) was not part of the checkpoint")
        }
        guard problems.isEmpty else {
            throw FerryError(.corrupt, "checkpoint in \(directory) is damaged: \(problems.joined(separator: "; "))")
        }
    }

    /// sha256 of every regular file directly in the directory.
    public static func checksums(of directory: String) throws(FerryError) -> [String: String] {
        try checksums(of: directory, files: try contentFiles(of: directory))
    }

    /// The regular files directly in the directory that make up the checkpoint.
    public static func contentFiles(of directory: String) throws(FerryError) -> [String] {
        try directoryEntries(directory).filter { name in
            !unchecked.contains(name) && fileStatus("\(directory)/\(name)").map { ($0.st_mode & S_IFMT) == S_IFREG } == true
        }.sorted()
    }

    static func size(of path: String) -> UInt64? {
        fileStatus(path).map { UInt64($0.st_size) }
    }

    /// sha256 of the named files of the directory, in process (no sha256sum to start in
    /// a migration's frozen window).
    static func checksums(of directory: String, files: [String]) throws(FerryError) -> [String: String] {
        var result: [String: String] = [:]
        for file in files {
            result[file] = try Digest.sha256(ofFile: "\(directory)/\(file)")
        }
        return result
    }
}
