import FerryErrors
import FerrySystem
import Foundation
import Glibc

/// A share's placeholder on this host: the `ferry __placeholder` daemon that a restore
/// mounts where the share belongs when its file server cannot be reached, so that CRIU can
/// reopen the processes' files there without waiting for the network.
///
/// The record (shares/N.placeholder.json) says a placeholder stands in; the daemon is
/// moved along by two signals (see PlaceholderDaemon): the restore is over, and the real
/// share is mounted at shares/N.return.
public struct SharePlaceholder: Sendable, Codable, Equatable {
    public static let restoreFinishedSignal = SIGUSR2
    public static let shareReturnedSignal = SIGUSR1
    /// What /proc/self/mountinfo calls a placeholder.
    public static let fsType = "fuse.ferry-placeholder"

    public var pid: pid_t
    public var startTime: UInt64
    public var since: Date
    /// Set once the real share is mounted at the return point and the daemon serves from it.
    public var returned: Bool

    public var alive: Bool { ProcFS.startTime(of: pid) == startTime }

    public static func read(_ layout: ContainerLayout, _ index: Int) -> SharePlaceholder? {
        guard access(layout.sharePlaceholder(index), F_OK) == 0 else { return nil }
        return try? JSONFile.read(SharePlaceholder.self, from: layout.sharePlaceholder(index), what: "share placeholder record")
    }

    func write(_ layout: ContainerLayout, _ index: Int) throws(FerryError) {
        try JSONFile.write(self, to: layout.sharePlaceholder(index))
    }

    func signal(_ number: Int32) {
        if alive { _ = kill(pid, number) }
    }

    /// Starts the daemon for share `index` and returns once its filesystem is mounted.
    static func start(
        _ share: NetworkShare, index: Int, inventory: ShareInventory, layout: ContainerLayout
    ) throws(FerryError) -> SharePlaceholder {
        guard let executable = RootedLookup.linkTarget("/proc/self/exe") else {
            throw FerryError(.invalidState, "cannot find the ferry executable (/proc/self/exe) to run the placeholder of \(share.target)")
        }
        try JSONFile.write(inventory, to: layout.shareInventory(index))
        try makeDirectories(layout.shareReturnPoint(index))
        let report = try makePipe()
        let log = try OwnedFileDescriptor.open(layout.sharePlaceholderLog(index), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode: 0o600)
        let pid = try Spawn.start(
            [
                executable, "__placeholder", "--inventory", layout.shareInventory(index),
                "--backing", layout.shareReturnPoint(index), "--label", "ferry-placeholder:\(share.source)",
                layout.shareMountPoint(index),
            ],
            stdout: log.rawValue, stderr: log.rawValue, extraDescriptors: [report.write.rawValue], newSession: true)
        report.write.close()
        log.close()
        // The daemon closes its end once mounted, or says why it could not.
        let message = String(decoding: (try? report.read.readAll()) ?? [], as: UTF8.self)
        guard message.isEmpty, try MountTable.isMountPoint(layout.shareMountPoint(index)), let startTime = ProcFS.startTime(of: pid) else {
            _ = kill(pid, SIGKILL)
            _ = try? Spawn.wait(pid)
            throw FerryError(
                .commandFailed,
                "cannot mount the placeholder for share \(share.source) at \(share.target): \(message.isEmpty ? "it exited" : message); see \(layout.sharePlaceholderLog(index))")
        }
        let placeholder = SharePlaceholder(pid: pid, startTime: startTime, since: Date(), returned: false)
        try placeholder.write(layout, index)
        return placeholder
    }

    /// After the placeholder was unmounted: the daemon has nothing left to serve. It is
    /// ended rather than waited for (its threads may still wait for a share that never
    /// came back), and reaped when it is this process's child.
    func end() {
        signal(SIGKILL)
        if let handle = try? ProcessHandle(pid: pid) { _ = handle.waitForExit(seconds: 5) }
        _ = Spawn.reapIfExited(pid)
    }
}
