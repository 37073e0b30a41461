import FerryErrors
import FerrySystem
import Foundation
import Glibc
import Logging

/// Tracks what changes in a container's private area from before the live pre-sync until
/// the freeze, so that the frozen-phase sync costs what changed, not what exists.
///
/// It watches the whole filesystem that holds the area (fanotify reports creates, deletes
/// and renames only for filesystem marks) and keeps, per directory handle, the names that
/// changed in directories under the area. A thread reads the events as they come, so a busy
/// host filesystem does not pile them up in the kernel; a directory's place is looked up
/// by its handle, remembered until any directory moves, and looked up again at the drain,
/// when the container is frozen and nothing in the area moves any more.
final class ChangeTracker: @unchecked Sendable {
    private let fanotify: Fanotify
    /// The area, as the drain reads it and the kernel names it.
    private let source: SyncSource
    private let lock = NSLock()
    private var draining = false
    /// Names that changed, per directory that was under the area when its event was read.
    private var changed: [KernelFileHandle: [[UInt8]: FanotifyMask]] = [:]
    /// Whether a directory is under the area; forgotten whenever a directory moves.
    private var underArea: [KernelFileHandle: Bool] = [:]
    /// Why what changed is no longer known (an overflow, an event not understood).
    private var doubt: String?
    private var buffer = [UInt8](repeating: 0, count: 1 << 18)

    /// Starts watching the area of `source`; nil (logged) when its filesystem cannot be watched this way
    /// (no file handles, an old kernel): the frozen-phase sync then copies the whole area.
    /// The thread holds the tracker only while it reads, so a migration that ends before
    /// the drain closes the group by dropping the tracker.
    static func start(_ source: SyncSource, logger: Logger) -> ChangeTracker? {
        do throws(FerryError) {
            let tracker = ChangeTracker(source, fanotify: try Fanotify(filesystemOf: source.anchor.procPath, events: .changes))
            Thread.detachNewThread { [weak tracker] in
                Thread.current.name = "ferry change tracker"
                while let current = tracker, current.readWhenReady() {}
            }
            return tracker
        } catch {
            logger.notice("the private area's changes cannot be tracked; the frozen-phase sync copies all of it", metadata: ["error": "\(error.message)"])
            return nil
        }
    }

    private init(_ source: SyncSource, fanotify: Fanotify) {
        self.source = source
        self.fanotify = fanotify
    }

    /// One turn of the tracker's thread: waits a little for events and reads them; false
    /// once the drain has taken over (or the group failed, which leaves it in doubt).
    private func readWhenReady() -> Bool {
        let ready: Bool
        do throws(FerryError) { ready = try fanotify.waitForEvents(milliseconds: 100) } catch {
            lock.withLock { doubt = doubt ?? error.message }
            return false
        }
        return lock.withLock {
            if ready, !draining { readQueued() }
            return !draining
        }
    }

    /// Stops tracking once the container is frozen and plans the frozen-phase sync: the
    /// changed paths, or the whole area when anything about them is in doubt (a directory
    /// that cannot be looked up, a tree that cannot be listed, included). `processes` are
    /// the container's: a file they map shared and writable changes with no event, so it
    /// is named as changed.
    func drain(processes: [pid_t]) -> FinalSyncPlan {
        lock.lock()
        draining = true
        readQueued()
        if FailurePoint.asks("change-tracker", "overflow") { doubt = doubt ?? "the event queue overflowed (injected by FERRY_FAIL_AT)" }
        let resolved = doubt.map { Result<ChangedPaths, FerryError>.failure(FerryError(.corrupt, $0)) } ?? Result { () throws(FerryError) in try resolve() }
        // Its thread reads no more once draining is set; it only polls once more.
        fanotify.close()
        lock.unlock()
        do throws(FerryError) {
            var changes = try resolved.get()
            for path in try Self.sharedWritableFiles(processes, source) { changes.recordWritten(path) }
            let source = source
            return try changes.transferList(kind: { Self.kind(source, $0) }, contents: { (tree) throws(FerryError) in try Self.contents(source, tree) })
        } catch {
            return .whole(reason: error.message)
        }
    }

    /// Reads and sorts every queued event (the lock held).
    private func readQueued() {
        while doubt == nil {
            do throws(FerryError) {
                let count = try fanotify.read(into: &buffer)
                if count == 0 { return }
                for event in try FanotifyEvent.parse(buffer[..<count]) { try note(event) }
            } catch {
                doubt = error.message
            }
        }
    }

    private func note(_ event: FanotifyEvent) throws(FerryError) {
        if event.mask.contains(.queueOverflow) { throw FerryError(.corrupt, "the fanotify event queue overflowed") }
        guard let directory = event.directory, let name = event.name else {
            // A link count changing is reported by inode only; its name's event follows.
            if event.mask.subtracting(.onDirectory) == .attrib { return }
            throw FerryError(.corrupt, "a fanotify event without a name (mask \(String(event.mask.rawValue, radix: 16)))")
        }
        if isUnderArea(directory) { changed[directory, default: [:]][name, default: []].formUnion(event.mask) }
        if event.mask.contains(.onDirectory), !event.mask.isDisjoint(with: [.movedFrom, .movedTo]) { underArea = [:] }
    }

    /// Whether a directory's names are kept. A lookup that fails while the container runs
    /// (a directory removed as its handle is decoded can fail with ENOMEM) keeps them,
    /// undecided: the drain looks again, with the container frozen.
    private func isUnderArea(_ directory: KernelFileHandle) -> Bool {
        if let known = underArea[directory] { return known }
        let lookup = Result { () throws(FerryError) in try Fanotify.path(of: directory, through: source.anchor) }
        guard case .success(let path) = lookup else { return true }
        let verdict = path.map { source.relative($0) != nil } ?? false
        underArea[directory] = verdict
        return verdict
    }

    /// Where each directory with changes is now (frozen): a directory gone or moved out
    /// of the area took its names with it, and its removal is recorded where it was.
    private func resolve() throws(FerryError) -> ChangedPaths {
        var paths = ChangedPaths()
        for (directory, names) in changed {
            guard let path = try Fanotify.path(of: directory, through: source.anchor), let inside = source.relative(path) else { continue }
            for (name, mask) in names { paths.record(mask, directory: inside, name: name) }
        }
        return paths
    }

    private static func kind(_ source: SyncSource, _ path: [UInt8]) -> ChangedPaths.Kind? {
        var status = stat()
        guard lstat(source.cPath(path), &status) == 0 else { return nil }
        return status.st_mode & S_IFMT == S_IFDIR ? .directory : .other(links: UInt64(status.st_nlink))
    }

    /// Every path under the directory `tree` (relative to the area).
    private static func contents(_ source: SyncSource, _ tree: [UInt8]) throws(FerryError) -> [[UInt8]] {
        var found: [[UInt8]] = []
        var pending = [tree]
        while let directory = pending.popLast() {
            for name in try directoryEntryNames(Array(source.path.utf8) + [UInt8(ascii: "/")] + directory) {
                let path = directory + [UInt8(ascii: "/")] + name
                found.append(path)
                if kind(source, path) == .directory { pending.append(path) }
            }
        }
        return found
    }

    /// The files under the area that `processes` map shared and writable: written through
    /// memory, they raise no event, and their times may not move (a page dirtied again
    /// before its writeback). Each is found by its handle, as the directories are.
    private static func sharedWritableFiles(_ processes: [pid_t], _ source: SyncSource) throws(FerryError) -> [[UInt8]] {
        let device = try source.anchor.stat().st_dev
        var found: [[UInt8]] = []
        for pid in processes {
            // A process that ended since the freeze maps nothing.
            guard let maps = try? readText("/proc/\(pid)/maps") else { continue }
            for line in maps.split(separator: "\n") {
                let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
                guard fields.count == 6, fields[1].dropFirst().first == "w", fields[1].last == "s", fields[4] != "0" else { continue }
                guard let file = try? OwnedFileDescriptor.open("/proc/\(pid)/map_files/\(fields[0])", O_RDONLY),
                    (try file.stat()).st_dev == device,
                    let path = try Fanotify.path(of: try Fanotify.handle(of: file), through: source.anchor),
                    let inside = source.relative(path)
                else { continue }
                found.append(inside)
            }
        }
        return found
    }
}
