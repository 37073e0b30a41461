import FerryCRIU
import FerryContainers
import FerryErrors
import FerrySystem
import Foundation
import Glibc
import Logging

/// `ferry checkpoint NAME --export FILE`: a checkpoint, then the checkpoint and the
/// container's private area in one archive (ExportArchive), for moving it by hand.
///
/// The container stays stopped here with its checkpoint, as after any checkpoint (so
/// `ferry restore NAME` still resumes it here if the archive is lost); the admin destroys
/// it once the import elsewhere has worked. Its lock is held from the dump to the last
/// byte of the archive, so nothing starts it and changes its files in between.
extension Checkpointer {
    public struct ExportResult: Sendable, Codable {
        public var checkpoint: Checkpointer.Result
        public var file: String
        public var bytes: UInt64
        public var totalSeconds: Double
    }

    /// `imagesDirectory` and `force` as for `ferry checkpoint` (`--to`, `--force`).
    public func export(_ name: ContainerName, to requestedFile: String, imagesDirectory: String?, force: Bool) throws(FerryError) -> ExportResult {
        let started = Monotonic.now
        let file = ExportArchive.absolute(requestedFile)
        // Every refusal before the dump.
        let compression = try ExportArchive.Compression(file: file)
        guard access(file, F_OK) != 0 else {
            throw FerryError(.alreadyExists, "export file \(file) already exists; remove it or choose another name")
        }
        let parent = (file as NSString).deletingLastPathComponent
        guard access(parent, W_OK) == 0 else {
            throw FerryError(.notFound, "cannot write the export file into \(parent); give a file in an existing, writable directory")
        }
        if compression == .zstd, (try? Spawn.run(["zstd", "--version"]))?.status != 0 {
            throw FerryError(.notFound, "zstd is not installed, so \(file) cannot be written; run scripts/setup (or apt-get install zstd), or export to a .tar")
        }
        let lock = try OperationLock(root: manager.root, name: name)
        defer { withExtendedLifetime(lock) {} }
        let runtime = try manager.runtime(name)
        if case .insulatedDevice(let device) = runtime.config.storage {
            throw FerryError(
                .invalidArgument,
                "container \(name) keeps its private area on device \(device), which an archive cannot carry; move the device with 'ferry migrate' or by hand")
        }
        let checkpoint = try checkpoint(name, to: imagesDirectory, leaveRunning: false, force: force, lockHeld: true)

        let staging = "\(runtime.layout.directory)/export"
        let partial = file + ".partial"
        try? removeTree(staging)
        defer { try? removeTree(staging) }
        do throws(FerryError) {
            try makeDirectories(staging)
            try syscall("symlink", path: staging) { symlink(checkpoint.directory, "\(staging)/\(ExportArchive.checkpointName)") }
            let privateTar = "\(staging)/\(ExportArchive.privateName)"
            let area = PrivateArea(config: runtime.config, layout: runtime.layout, root: manager.root, logger: manager.logger)
            try logger.timed("archive private area", metadata: ["container": "\(name)"]) { () throws(FerryError) in
                try area.mountPrivate()
                defer { try? area.unmountPrivate() }
                try ExportArchive.packTree(runtime.layout.privateArea, into: privateTar)
            }
            let record = ExportArchive(
                format: ExportArchive.currentFormat, createdAt: Date(), privateArea: try ExportArchive.checksum(privateTar),
                manifest: try ExportArchive.checksum("\(checkpoint.directory)/\(CheckpointManifest.fileName)"))
            try JSONFile.write(record, to: "\(staging)/\(ExportArchive.recordName)")
            // The archive holds the container's memory and files (keys, /etc/shadow): only
            // root reads it. tar writes into the file made here and keeps its mode.
            unlink(partial)
            try OwnedFileDescriptor.open(partial, O_WRONLY | O_CREAT | O_EXCL, mode: 0o600).close()
            // -h: the checkpoint is packed through its symlink, its images as files.
            try logger.timed("write archive", metadata: ["file": "\(file)"]) { () throws(FerryError) in
                try Spawn.check(
                    ["tar", "-chf", partial] + compression.tarOptions
                        + ["-C", staging, ExportArchive.recordName, ExportArchive.checkpointName, ExportArchive.privateName],
                    "cannot write the export file \(file)")
            }
            try syscall("rename", path: file) { rename(partial, file) }
        } catch {
            unlink(partial)
            throw FerryError(
                error.code, "\(error.message); container \(name) stays stopped here with its checkpoint ('ferry restore \(name)' resumes it)",
                cause: error.cause)
        }
        logger.info("checkpoint exported", metadata: ["container": "\(name)", "file": "\(file)"])
        return ExportResult(checkpoint: checkpoint, file: file, bytes: UInt64(fileStatus(file)?.st_size ?? 0), totalSeconds: Monotonic.now - started)
    }
}
