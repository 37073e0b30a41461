import FerryErrors
import FerryMounts
import FerrySystem
import Glibc

/// Reads a running container's mount state from /proc: one mount table per mount namespace
/// in use by any of its processes (found through its cgroup).
public struct MountCapturer {
    public let runtime: ContainerRuntime

    public init(runtime: ContainerRuntime) {
        self.runtime = runtime
    }

    public func capture() throws(FerryError) -> MountTreeCapture {
        guard let state = runtime.runtimeState, runtime.status == .running else {
            throw FerryError(.invalidState, "container \(runtime.config.name) is not running")
        }
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
            namespaces.append(MountNamespaceCapture(inode: inode, containerPids: group.containerPids.sorted(), mounts: mounts))
        }
        // Lowest pid first: the init's namespace leads, and the order is stable across a restore.
        namespaces.sort { ($0.containerPids.first ?? .max) < ($1.containerPids.first ?? .max) }
        return MountTreeCapture(hostRoot: runtime.rootfs, namespaces: namespaces)
    }

    /// The pid as the container sees it: the last NSpid entry of /proc/PID/status.
    static func containerPid(of pid: pid_t) -> Int32? {
        guard let status = try? readText("/proc/\(pid)/status"),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("NSpid:") })
        else { return nil }
        return line.split(whereSeparator: { $0 == "\t" || $0 == " " }).last.flatMap { Int32($0) }
    }
}

/// The pre-flight report `ferry mounts` prints and `ferry checkpoint` consults.
public struct MountReport: Sendable, Codable {
    public struct Entry: Sendable, Codable {
        public var namespace: Int
        public var mountPoint: String
        public var fsType: String
        public var source: String
        public var propagation: String
        public var kind: FilesystemKind
        public var verdict: MountVerdict
    }

    public var entries: [Entry]

    public init(_ capture: MountTreeCapture) {
        var entries: [Entry] = []
        for (index, namespace) in capture.namespaces.enumerated() {
            let analysis = MountAnalysis(namespace.mounts)
            for mount in namespace.mounts {
                let (kind, verdict) = analysis.verdict(for: mount)
                var propagation: [String] = []
                if let group = mount.propagation.sharedGroup { propagation.append("shared:\(group)") }
                if let master = mount.propagation.masterGroup { propagation.append("master:\(master)") }
                if mount.propagation.unbindable { propagation.append("unbindable") }
                entries.append(Entry(
                    namespace: index + 1, mountPoint: analysis.key(of: mount), fsType: mount.fsType, source: mount.source,
                    propagation: propagation.isEmpty ? "private" : propagation.joined(separator: " "),
                    kind: kind, verdict: verdict))
            }
        }
        self.entries = entries
    }

    public var blocked: [Entry] { entries.filter { $0.verdict.isBlocked } }
}
