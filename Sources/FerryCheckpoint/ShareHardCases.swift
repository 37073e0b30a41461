import FerryMounts

/// Files on a `--share` that a migration cannot carry, found before anything is frozen.
///
/// CRIU reopens a process's files on an external mount by path, which is what moves the
/// rest of a share: these three have no path to reopen. A FIFO's buffered bytes and its
/// peers live in the kernel that opened it, not on the file server; a unix socket bound to
/// a path on the share is a kernel object that NFS and sshfs cannot create on the server;
/// a deleted file has no name left there for the target to open (CRIU's link-remap would
/// have to write a hidden copy onto someone else's share; sshfs's own hidden name goes at
/// the source's last close). So each is a reason the
/// checkpoint stops, named by `ferry mounts`, rather than a file lost after the restore.
public enum ShareHardCases {
    /// The shares as a capture shows them: their mounts (the --share and every bind made of
    /// it, in every namespace), and where those are in the container.
    public struct Shares: Sendable, Equatable {
        public var mountIDs: Set<Int>
        public var mountPoints: [String]

        public init(mountIDs: Set<Int>, mountPoints: [String]) {
            self.mountIDs = mountIDs
            self.mountPoints = mountPoints
        }

        public init(_ capture: MountTreeCapture) {
            var mountIDs: Set<Int> = []
            var mountPoints: [String] = []
            for (namespace, analysis) in zip(capture.namespaces, capture.analyses()) {
                for mount in namespace.mounts where analysis.context(for: mount).isShare {
                    mountIDs.insert(mount.id)
                    if !mountPoints.contains(mount.mountPoint) { mountPoints.append(mount.mountPoint) }
                }
            }
            self.init(mountIDs: mountIDs, mountPoints: mountPoints)
        }

        func contains(path: String) -> Bool {
            mountPoints.contains { path == $0 || path.hasPrefix($0 + "/") }
        }
    }

    /// libfuse renames a file that is unlinked while open to `.fuse_hiddenNNN` and deletes
    /// it at the last close: on the source's kill, before the target could open it.
    static func isHiddenByFUSE(_ path: String) -> Bool {
        path.split(separator: "/").last?.hasPrefix(".fuse_hidden") ?? false
    }

    public static func blockers(_ processes: [ProcessFacts], shares: Shares) -> [ProcessBlocker] {
        guard !shares.mountIDs.isEmpty else { return [] }
        var result: [ProcessBlocker] = []
        var socketsSeen: Set<String> = []
        for process in processes {
            func block(_ reason: String) {
                result.append(ProcessBlocker(pid: process.containerPid, command: process.command, reason: reason))
            }
            for file in process.files where shares.mountIDs.contains(file.mountID) {
                if file.kind == .fifo {
                    block("has the FIFO \(file.path) on a network share open: its data lives in this host's kernel, not on the file server; close it, or make the FIFO off the share")
                } else if file.deleted || Self.isHiddenByFUSE(file.path) {
                    block("holds \(file.path), deleted from a network share: the target cannot open it by name; close it before the checkpoint")
                }
            }
            // Every process of a network namespace lists the same sockets: each once.
            for path in process.boundSockets where shares.contains(path: path) && socketsSeen.insert(path).inserted {
                block("has the unix socket \(path) bound on a network share: the file server cannot hold it; bind it off the share (e.g. under /run)")
            }
        }
        return result
    }
}
