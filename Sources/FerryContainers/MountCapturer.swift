import FerryErrors
import FerryMounts
import FerrySystem
import Glibc

/// Reads a running container's mount state from /proc: one mount table per mount namespace
/// in use by any of its processes (found through its cgroup).
public struct MountCapturer {
    public let runtime: ContainerRuntime
    /// The running init, as the caller's operation found it.
    public let state: RuntimeState

    public init(runtime: ContainerRuntime, state: RuntimeState) {
        self.runtime = runtime
        self.state = state
    }

    public func capture() throws(FerryError) -> MountTreeCapture {
        var pids = runtime.cgroup.pids
        if !pids.contains(state.initPid) { pids.insert(state.initPid, at: 0) }
        var groups: [UInt64: (hostPid: pid_t, containerPids: [Int32])] = [:]
        var order: [UInt64] = []
        for pid in pids {
            guard let inode = Namespaces.identity(pid: pid, "mnt"), let inner = Self.containerPid(of: pid) else { continue }
            if groups[inode] == nil {
                groups[inode] = (pid, [])
                order.append(inode)
            }
            groups[inode]?.containerPids.append(inner)
        }
        var namespaces: [MountNamespaceCapture] = []
        for inode in order {
            guard let group = groups[inode] else { continue }
            let mounts = try MountTable.current(pid: "\(group.hostPid)")
            // Only the topmost mount at a path can be looked at; a file bind is never covered
            // by a directory mount, so that is the one whose kind matters.
            let fileMounts = mounts.filter { mount in
                RootedLookup.cachedType(pid: group.hostPid, path: mount.mountPoint).map { $0 != S_IFDIR } ?? false
            }.map(\.id)
            namespaces.append(MountNamespaceCapture(inode: inode, containerPids: group.containerPids.sorted(), mounts: mounts, fileMounts: fileMounts))
        }
        // Lowest pid first: the init's namespace leads, and the order is stable across a restore.
        namespaces.sort { ($0.containerPids.first ?? .max) < ($1.containerPids.first ?? .max) }
        return MountTreeCapture(
            hostRoot: runtime.rootfs, namespaces: namespaces, declaredBinds: runtime.config.hostMountDestinations,
            declaredShares: runtime.config.declaredShares.map(\.target), hostPids: pids,
            cgroupPath: "/" + runtime.cgroups.relativePath)
    }

    /// The pid as the container sees it: the last NSpid entry of /proc/PID/status.
    static func containerPid(of pid: pid_t) -> Int32? {
        ProcFS.Status(of: "\(pid)")?.values("NSpid").last.flatMap { Int32($0) }
    }
}

