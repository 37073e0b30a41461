import FerryCRIU
import FerryContainers
import FerryErrors
import FerrySystem
import Foundation
import Glibc
import Logging

/// `ferry restore --import FILE [--name NEW]`: creates the container an ExportArchive
/// carries (under its own name or NEW) and restores it.
///
/// Everything is checked before anything is in place: the archive unpacks, its record's
/// checksums match, the checkpoint's manifest verifies, the name is free, and what the
/// container needs from this host (bind sources, overlay template, hooks, bridge) is
/// here. The container is built in a hidden staging directory and renamed into place last,
/// so a refused archive leaves nothing behind. A new name changes the container's
/// directory and cgroups (both follow the name) and nothing inside it: the hostname is
/// part of the dumped UTS namespace and stays (`ferry set NEW --hostname` while stopped).
extension Restorer {
    public struct ImportResult: Sendable, Codable {
        public var name: String
        public var restore: Restorer.Result
    }

    private var root: StateRoot { manager.root }

    public func importAndRestore(_ requestedFile: String, as requestedName: ContainerName?, remap: Remap) throws(FerryError) -> ImportResult {
        let file = ExportArchive.absolute(requestedFile)
        guard let info = fileStatus(file), (info.st_mode & S_IFMT) == S_IFREG else {
            throw FerryError(.notFound, "import file \(file) does not exist or is not a file; give the file 'ferry checkpoint --export' wrote")
        }
        if let requestedName { try refuseTaken(requestedName) }
        // Not a timed step: its refusals are the admin's one-line errors, not warnings.
        let name = try stageAndPlace(file, as: requestedName, remap: remap)
        do throws(FerryError) {
            let restored = try restore(name, from: nil, remap: .init())
            return ImportResult(name: name.value, restore: restored)
        } catch {
            throw FerryError(
                error.code,
                "\(error.message); \(name) was imported and stays stopped with its checkpoint: 'ferry restore \(name)' tries again, 'ferry destroy \(name)' removes it",
                cause: error.cause)
        }
    }

    private func refuseTaken(_ name: ContainerName) throws(FerryError) {
        guard access(root.layout(of: name).directory, F_OK) != 0 else {
            throw FerryError(.alreadyExists, "container \(name) already exists under \(root.path); give the imported one another name with --name NEW")
        }
    }

    /// Unpacks and checks the archive, builds the container in staging and moves it into
    /// place; on any failure removes all of it.
    private func stageAndPlace(_ file: String, as requestedName: ContainerName?, remap: Remap) throws(FerryError) -> ContainerName {
        let lock = try OperationLock(creatingIn: root)
        defer { withExtendedLifetime(lock) {} }
        // One import at a time per root (the creation lock), so what is here is left by
        // an import that was killed: its private area may still be mounted.
        let staging = ContainerLayout(directory: "\(root.containersDirectory)/.importing")
        let unpacked = "\(staging.directory)/archive"
        if (try? MountTable.isMountPoint(staging.privateArea)) == true { try Mounts.unmount(staging.privateArea) }
        try removeTree(staging.directory)
        var area: PrivateArea?
        do throws(FerryError) {
            try makeDirectories(unpacked)
            let manifest = try unpackAndVerify(file, into: unpacked)
            let config = try admit(manifest.container, as: requestedName ?? manifest.container.name, remap: remap)
            area = PrivateArea(config: config, layout: staging, root: root, logger: manager.logger)
            try build(config, in: staging, from: unpacked)
            area = nil
            var adopted = manifest
            adopted.container.name = config.name
            try syscall("rename", path: staging.checkpoint) { rename("\(unpacked)/\(ExportArchive.checkpointName)", staging.checkpoint) }
            // The images are the new name's now (the restore checks whose they are).
            try adopted.write(to: staging.checkpoint)
            try manager.writeConfig(config, to: staging)
            try removeTree(unpacked)
            try syscall("rename", path: root.layout(of: config.name).directory) {
                rename(staging.directory, root.layout(of: config.name).directory)
            }
            logger.info("container imported", metadata: ["container": "\(config.name)", "file": "\(file)"])
            return config.name
        } catch {
            try? area?.unmountPrivate()
            try? removeTree(staging.directory)
            throw error
        }
    }

    /// Unpacks the three members and checks them against the record and the manifest.
    private func unpackAndVerify(_ file: String, into directory: String) throws(FerryError) -> CheckpointManifest {
        // Only the members an export writes, whatever else the file may hold; tar finds
        // the compression itself.
        let members = [ExportArchive.recordName, ExportArchive.checkpointName, ExportArchive.privateName]
        let untar = try Spawn.run(["tar", "-xf", file, "-C", directory, "--no-same-owner"] + members)
        guard untar.status == 0 else {
            let said = untar.stderr.split(separator: "\n").first.map(String.init) ?? "tar exited with status \(untar.status)"
            throw FerryError(.corrupt, "import file \(file) cannot be unpacked (truncated or not a Ferry export?): \(said)")
        }
        let record = try JSONFile.read(ExportArchive.self, from: "\(directory)/\(ExportArchive.recordName)", what: "export record in \(file)")
        guard record.format <= ExportArchive.currentFormat else {
            throw FerryError(
                .corrupt, "import file \(file) has format \(record.format), newer than this Ferry understands (\(ExportArchive.currentFormat)); upgrade Ferry")
        }
        let images = "\(directory)/\(ExportArchive.checkpointName)"
        guard let folder = linkStatus(images), isDirectory(folder) else {
            throw FerryError(.corrupt, "import file \(file) is damaged: \(ExportArchive.checkpointName)/ is missing")
        }
        let checks = [
            (ExportArchive.privateName, "\(directory)/\(ExportArchive.privateName)", record.privateArea),
            ("\(ExportArchive.checkpointName)/\(CheckpointManifest.fileName)", "\(images)/\(CheckpointManifest.fileName)", record.manifest),
        ]
        for (member, path, expected) in checks {
            guard let status = linkStatus(path), (status.st_mode & S_IFMT) == S_IFREG else {
                throw FerryError(.corrupt, "import file \(file) is damaged: \(member) is missing")
            }
            guard try ExportArchive.checksum(path) == expected else {
                throw FerryError(.corrupt, "import file \(file) is damaged: \(member) is corrupt (checksum differs)")
            }
        }
        let manifest = try CheckpointManifest.read(from: images, expecting: nil)
        do throws(FerryError) {
            try manifest.verify(directory: images)
        } catch {
            // The staging path means nothing to the admin; the member's name does.
            let problems = error.message.replacingOccurrences(of: "checkpoint in \(images) is damaged: ", with: "in \(ExportArchive.checkpointName)/, ")
            throw FerryError(.corrupt, "import file \(file) is damaged: \(problems)")
        }
        return manifest
    }

    /// The archived config under its name on this host, once everything it needs from
    /// this host is here; each refusal names the option that fixes it.
    private func admit(_ archived: ContainerConfig, as name: ContainerName, remap: Remap) throws(FerryError) -> ContainerConfig {
        try refuseTaken(name)
        var config = try remap.applied(to: archived)
        config.name = name
        if case .insulatedDevice = config.storage {
            throw FerryError(.invalidArgument, "the archived container keeps its private area on a device; an archive cannot carry it")
        }
        for bind in config.binds where access(bind.source, F_OK) != 0 {
            throw FerryError(
                .notFound,
                "bind source \(bind.source) (at \(bind.destination)) does not exist on this host; give its place here with --bind-source \(bind.destination)=HOSTPATH")
        }
        if let template = config.overlayTemplate, access(template, F_OK) != 0 {
            throw FerryError(.notFound, "overlay template \(template) does not exist on this host; give its place here with --overlay-template DIR")
        }
        for hook in [config.hooks.premount, config.hooks.postumount].compactMap({ $0 }) where access(hook, X_OK) != 0 {
            throw FerryError(.notFound, "hook \(hook) of the archived container is not an executable file on this host; install it there first")
        }
        if let network = config.network { try NetworkAttachment.requireBridge(network.bridge) }
        try root.refuseTakenUserNamespace(of: config)
        return config
    }

    /// The private area, filled from the archive's tree.
    private func build(_ config: ContainerConfig, in layout: ContainerLayout, from unpacked: String) throws(FerryError) {
        try makeDirectories(layout.privateArea)
        if case .insulatedImage(let file, let size) = config.storage {
            try PrivateArea.createImage(at: layout.imagePath(file), sizeBytes: size)
        }
        let area = PrivateArea(config: config, layout: layout, root: root, logger: manager.logger)
        try area.mountPrivate()
        try ExportArchive.unpackTree("\(unpacked)/\(ExportArchive.privateName)", into: layout.privateArea)
        try area.unmountPrivate()
        unlink("\(unpacked)/\(ExportArchive.privateName)")
    }
}
