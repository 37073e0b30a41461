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
    /// The area's path as the kernel spells it (symbolic links resolved).
    private let area: [UInt8]
    private let logger: Logger
    private let lock = NSLock()
    private var draining = false
    /// Names that changed, per directory that was under the area when its event was read.
    private var changed: [KernelFileHandle: [[UInt8]: FanotifyMask]] = [:]
    /// Whether a directory is under the area; forgotten whenever a directory moves.
    private var underArea: [KernelFileHandle: Bool] = [:]
    /// Why what changed is no longer known (an overflow, an event not understood).
    private var doubt: String?
    private var buffer = [UInt8](repeating: 0, count: 1 << 18)

    /// Starts watching `area`; nil (logged) when its filesystem cannot be watched this way
    /// (no file handles, an old kernel): the frozen-phase sync then copies the whole area.
    static func start(area: String, logger: Logger) -> ChangeTracker? {
        do throws(FerryError) {
            let tracker = try ChangeTracker(area: area, logger: logger)
            Thread.detachNewThread { tracker.readUntilDrained() }
            return tracker
        } catch {
            logger.notice("the private area's changes cannot be tracked; the frozen-phase sync copies all of it", metadata: ["error": "\(error.message)"])
            return nil
        }
    }

    private init(area: String, logger: Logger) throws(FerryError) {
        guard let resolved = realpath(area, nil) else { throw FerryError.system("realpath", .init(rawValue: errno), path: area) }
        defer { free(resolved) }
        self.area = Array(String(cString: resolved).utf8)
        self.logger = logger
        fanotify = try Fanotify(filesystemOf: area, events: .changes)
    }

    /// The tracker's thread: reads events until the drain takes over.
    private func readUntilDrained() {
        Thread.current.name = "ferry change tracker"
        while true {
            let ready: Bool
            do throws(FerryError) { ready = try fanotify.waitForEvents(milliseconds: 100) } catch {
                lock.withLock { doubt = doubt ?? error.message }
                return
            }
            let done = lock.withLock { () -> Bool in
                if ready, !draining { readQueued() }
                return draining
            }
            if done { return }
        }
    }

    /// Stops tracking once the container is frozen and plans the frozen-phase sync: the
    /// changed paths, or the whole area when anything about them is in doubt. `processes`
    /// are the container's: a file they map shared and writable changes with no event.
    func drain(processes: [pid_t]) throws(FerryError) -> FinalSyncPlan {
        lock.lock()
        draining = true
        readQueued()
        if FailurePoint.asks("change-tracker", "overflow") { doubt = doubt ?? "the event queue overflowed (injected by FERRY_FAIL_AT)" }
        let resolved = doubt == nil ? Result { () throws(FerryError) in try resolve() } : nil
        let reason = doubt
        lock.unlock()
        guard let resolved else { return .whole(reason: reason ?? "") }
        let changes = try resolved.get()
        if let mapped = Self.sharedWritableMapping(processes) {
            return .whole(reason: "a process maps \(mapped) shared and writable")
        }
        let area = area
        return try changes.transferList(kind: { Self.kind(area, $0) }, contents: { (tree) throws(FerryError) in try Self.contents(area, tree) })
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
        if try isUnderArea(directory) { changed[directory, default: [:]][name, default: []].formUnion(event.mask) }
        if event.mask.contains(.onDirectory), !event.mask.isDisjoint(with: [.movedFrom, .movedTo]) { underArea = [:] }
    }

    private func isUnderArea(_ directory: KernelFileHandle) throws(FerryError) -> Bool {
        if let known = underArea[directory] { return known }
        let verdict = try fanotify.path(of: directory).map { relative($0) != nil } ?? false
        underArea[directory] = verdict
        return verdict
    }

    /// `path` relative to the area ("" for the area itself); nil outside it.
    private func relative(_ path: [UInt8]) -> [UInt8]? {
        if path == area { return [] }
        guard path.count > area.count, path.starts(with: area), path[area.count] == UInt8(ascii: "/") else { return nil }
        return Array(path[(area.count + 1)...])
    }

    /// Where each directory with changes is now (frozen): a directory gone or moved out
    /// of the area took its names with it, and its removal is recorded where it was.
    private func resolve() throws(FerryError) -> ChangedPaths {
        var paths = ChangedPaths()
        for (directory, names) in changed {
            guard let path = try fanotify.path(of: directory), let inside = relative(path) else { continue }
            for (name, mask) in names { paths.record(mask, directory: inside, name: name) }
        }
        return paths
    }

    private static func kind(_ area: [UInt8], _ path: [UInt8]) -> ChangedPaths.Kind? {
        var status = stat()
        guard lstat(cPath(area, path), &status) == 0 else { return nil }
        return status.st_mode & S_IFMT == S_IFDIR ? .directory : .other(links: UInt64(status.st_nlink))
    }

    /// Every path under the directory `tree` (relative to the area).
    private static func contents(_ area: [UInt8], _ tree: [UInt8]) throws(FerryError) -> [[UInt8]] {
        var found: [[UInt8]] = []
        var pending = [tree]
        while let directory = pending.popLast() {
            for name in try directoryEntryNames(area + [UInt8(ascii: "/")] + directory) {
                let path = directory + [UInt8(ascii: "/")] + name
                found.append(path)
                if kind(area, path) == .directory { pending.append(path) }
            }
        }
        return found
    }

    /// The C string of `relative` under `area`, byte for byte.
    private static func cPath(_ area: [UInt8], _ relative: [UInt8]) -> [CChar] {
        (area + [UInt8(ascii: "/")] + relative + [0]).map { CChar(bitPattern: $0) }
    }

    /// A file that one of `processes` maps shared and writable (its writes raise no
    /// event), by its path in /proc/PID/maps; nil when there is none.
    private static func sharedWritableMapping(_ processes: [pid_t]) -> String? {
        for pid in processes {
            guard let maps = try? String(contentsOfFile: "/proc/\(pid)/maps", encoding: .utf8) else { continue }
            for line in maps.split(separator: "\n") {
                let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
                guard fields.count == 6, fields[1].dropFirst().first == "w", fields[1].last == "s" else { continue }
                let path = fields[5].trimmingCharacters(in: .whitespaces)
                // Shared anonymous memory, System V segments and memfds are no files of the area.
                if path.hasSuffix(" (deleted)") || !path.hasPrefix("/") || path.hasPrefix("/dev/") { continue }
                return path
            }
        }
        return nil
    }
}
