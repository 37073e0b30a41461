import FerryContainers
import FerryErrors
import FerrySystem
import Foundation
import Glibc

/// What a migration has done so far and how to take each step back, on disk.
///
/// A step writes its undo here *before* it acts, so whatever happens next — an error, or a
/// kill -9 of ferry itself — `ferry recover NAME` can run the undos backwards and leave the
/// source container running and the target clean.
public struct MigrationJournal: Codable, Sendable {
    public var container: String
    public var target: SSHTarget
    public var remoteFerry: String
    public var imagesDirectory: String
    /// Set when the images live on a shared dump device instead of `imagesDirectory`.
    public var dumpDevice: DumpDevice?
    public var undo: [UndoAction]
    /// Set just before the target is told to keep the container: from then on recovery
    /// finishes the migration instead of undoing it.
    public var committed = false

    /// How to take one step back.
    public enum UndoAction: Codable, Sendable, Equatable {
        /// Remove whatever this migration staged or restored on the target.
        case abortTarget
        /// The target may hold a restored (frozen) copy: have it aborted, or, when the
        /// target cannot be reached, wait until its lease has surely ended (`until`, on
        /// this host's clock, counted from before the request was sent): by then its
        /// monitor has fenced the copy, and the source may resume its own.
        case abortTargetOrOutwaitLease(until: Date)
        /// The source was dumped (and so stopped): restore it from the local images.
        case restoreSource
        /// The source's insulated private area was mounted for the copy: unmount it.
        case unmountSourcePrivateArea
    }

    public static func path(root: StateRoot, name: ContainerName) -> String {
        root.migrationJournal(of: name)
    }

    public static func load(root: StateRoot, name: ContainerName) throws(FerryError) -> MigrationJournal? {
        let path = path(root: root, name: name)
        guard access(path, F_OK) == 0 else { return nil }
        return try JSONFile.read(MigrationJournal.self, from: path, what: "migration journal")
    }

    public func save(root: StateRoot) throws(FerryError) {
        try makeDirectories(root.migrationsDirectory, mode: 0o700)
        try JSONFile.write(self, to: Self.path(root: root, name: try ContainerName(container)), durable: true)
    }

    public static func remove(root: StateRoot, name: ContainerName) {
        unlink(path(root: root, name: name))
    }
}
