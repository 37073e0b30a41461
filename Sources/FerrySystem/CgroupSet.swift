import FerryErrors
import Glibc

/// A container's cgroup in *every* hierarchy the host has mounted (each cgroup v1
/// controller, the named `name=systemd` one, and the cgroup2 tree), at the same relative
/// path in each.
///
/// A systemd guest sees its cgroups through a cgroup namespace rooted here; wherever the
/// container had no cgroup of its own, its systemd would create init.scope and
/// system.slice in the host's cgroups (../shared/CRIU-FACTS.md).
public struct CgroupSet: Sendable, Equatable {
    public struct Member: Sendable, Equatable {
        /// Where the hierarchy is mounted (/sys/fs/cgroup/memory, /sys/fs/cgroup/unified).
        public var mountPoint: String
        public var isVersion2: Bool
        /// The container's cgroup in it.
        public var path: String

        /// The hierarchy's name across hosts: the last component of its mount point.
        public var key: String { String(mountPoint.split(separator: "/").last ?? "") }
    }

    public let relativePath: String
    public let members: [Member]

    /// The hierarchies mounted on this host, from its mount table, each with the
    /// controllers it carries as /proc/PID/cgroup names them (empty for cgroup2).
    public static func hierarchies() -> [(mountPoint: String, isVersion2: Bool, controllers: Set<String>)] {
        let text = (try? readText("/proc/self/mountinfo")) ?? ""
        var result: [(String, Bool, Set<String>)] = []
        var seen: Set<String> = []
        for line in text.split(separator: "\n") {
            let all = line.split(separator: " ")
            guard let dash = all.firstIndex(of: "-"), dash >= 5 else { continue }
            let tail = all[(dash + 1)...]
            guard let fstype = tail.first, fstype == "cgroup" || fstype == "cgroup2", tail.count > 2 else { continue }
            let fields = all[..<dash]
            guard seen.insert(String(fields[4])).inserted else { continue }
            let generic: Set<String> = ["rw", "ro", "relatime", "noatime", "nosuid", "nodev", "noexec", "none", "nsdelegate", "memory_recursiveprot", "clone_children", "xattr"]
            let controllers: Set<String> = fstype == "cgroup2" ? [] : Set(tail[tail.startIndex + 2].split(separator: ",").map(String.init).filter { !generic.contains($0) && !$0.hasPrefix("release_agent=") })
            result.append((String(fields[4]), fstype == "cgroup2", controllers))
        }
        return result
    }

    /// The set for `relativePath` (e.g. ferry/TAG/NAME) in every hierarchy.
    public init(relativePath: String) {
        self.relativePath = relativePath
        members = Self.hierarchies().map { Member(mountPoint: $0.mountPoint, isVersion2: $0.isVersion2, path: "\($0.mountPoint)/\(relativePath)") }
    }

    /// Makes the cgroup in each hierarchy. A new cpuset cgroup has no cpus or memory nodes
    /// until given some, and then takes no tasks: each level copies its parent's.
    public func create() throws(FerryError) {
        for member in members {
            if access("\(member.mountPoint)/cpuset.cpus", F_OK) == 0 {
                var current = member.mountPoint
                for part in relativePath.split(separator: "/") {
                    let parent = current
                    current += "/\(part)"
                    try makeDirectories(current)
                    for file in ["cpuset.cpus", "cpuset.mems"] {
                        let value = (try? readText("\(current)/\(file)"))?.trimmingNewline ?? ""
                        if value.isEmpty { try writeText("\(current)/\(file)", try readText("\(parent)/\(file)")) }
                    }
                }
            } else {
                try makeDirectories(member.path)
            }
        }
    }

    /// The files of a cgroup that its delegate writes to manage the processes and cgroups
    /// below it; its limits stay the host's (LXC delegates the same set).
    static let delegationFiles = ["cgroup.procs", "tasks", "cgroup.subtree_control", "cgroup.threads"]

    /// Hands the container's cgroups to `owner` (a `--userns` container's root on the host)
    /// as LXC does: in every hierarchy the directory and its delegation files, and all of
    /// every cgroup below it (which the kernel gives its maker, as a restore must too), so
    /// its systemd can make and fill its own. Its own limits' files stay root's.
    /// The corresponding C function is `lchown`.
    public func delegate(to owner: UInt32) throws(FerryError) {
        for member in members where access(member.path, F_OK) == 0 {
            let delegation = Self.delegationFiles.map { "\(member.path)/\($0)" }
            var paths = [member.path] + delegation.filter { access($0, F_OK) == 0 }
            for directory in Self.subdirectories(of: member.path) {
                paths.append(directory)
                let entries = try directoryEntries(directory).map { "\(directory)/\($0)" }
                paths += entries.filter { fileStatus($0).map(isDirectory) == false }
            }
            for path in paths { try syscall("lchown", path: path) { lchown(path, owner, owner) } }
        }
    }

    /// Denies every device, then allows `rules` ("c 1:3 rwm"…), in the cgroup v1 devices
    /// hierarchy when the host has one (the only device control without a BPF program).
    public func restrictDevices(to rules: [String]) throws(FerryError) {
        for member in members where !member.isVersion2 && member.mountPoint.hasSuffix("/devices") && access(member.path, F_OK) == 0 {
            try writeText("\(member.path)/devices.deny", "a\n")
            for rule in rules { try writeText("\(member.path)/devices.allow", rule + "\n") }
        }
    }

    /// Attaches `sysctlGuard` to the container's cgroup2 directory: it then applies to
    /// every task in the container, and in any cgroup below it (systemd's).
    public func attach(_ sysctlGuard: SysctlGuard) throws(FerryError) {
        guard let member = members.first(where: \.isVersion2) else {
            throw FerryError(
                .kernelUnsupported,
                "cannot keep a hardened container's root off the host's sysctls: this host has no cgroup2 hierarchy mounted (mount one, e.g. 'mount -t cgroup2 none /sys/fs/cgroup/unified', or create the container --privileged)")
        }
        try sysctlGuard.attach(to: member.path)
    }

    /// Writes `value` into `file` of the container's cgroup in every hierarchy that has
    /// that file (a controller's knob exists only where the controller is); returns how
    /// many did.
    @discardableResult
    public func write(_ file: String, _ value: String) throws(FerryError) -> Int {
        var written = 0
        for member in members where access("\(member.path)/\(file)", F_OK) == 0 {
            try writeText("\(member.path)/\(file)", value + "\n")
            written += 1
        }
        return written
    }

    /// Reads `file` of the container's cgroup from the first hierarchy that has it.
    public func read(_ file: String) -> String? {
        for member in members where access("\(member.path)/\(file)", F_OK) == 0 {
            if let text = try? readText("\(member.path)/\(file)") { return text.trimmingNewline }
        }
        return nil
    }

    /// Moves a process into the container's cgroup in every hierarchy.
    public func add(_ pid: pid_t) throws(FerryError) {
        for member in members where access(member.path, F_OK) == 0 {
            try writeText("\(member.path)/cgroup.procs", "\(pid)\n")
        }
    }

    /// Every cgroup below the container's, per hierarchy (named by its mount point's last
    /// component: memory, unified, systemd…), relative and parents first: what the guest's
    /// systemd made there. It watches some even while they are empty, and CRIU recreates
    /// only those that hold a task.
    public func tree() -> [String: [String]] {
        var result: [String: [String]] = [:]
        for member in members where access(member.path, F_OK) == 0 {
            let prefix = member.path.count + 1
            let below = Self.subdirectories(of: member.path).map { String($0.dropFirst(prefix)) }
            if !below.isEmpty { result[member.key] = below }
        }
        return result
    }

    /// Recreates what `tree()` recorded, in the hierarchies this host has.
    public func createTree(_ tree: [String: [String]]) throws(FerryError) {
        for member in members {
            for relative in tree[member.key] ?? [] { try makeDirectories("\(member.path)/\(relative)") }
        }
    }

    /// Removes the container's cgroups and everything its guest made below them, deepest
    /// first; a cgroup that still has processes stays and is reported.
    public func remove() throws(FerryError) {
        for member in members where access(member.path, F_OK) == 0 {
            for directory in Self.subdirectories(of: member.path).reversed() + [member.path] {
                try Self.removeEmpty(directory)
            }
        }
    }

    /// Every directory below `path`, parents before children.
    static func subdirectories(of path: String) -> [String] {
        var result: [String] = []
        for entry in ((try? directoryEntries(path)) ?? []).sorted() {
            let child = "\(path)/\(entry)"
            if let info = fileStatus(child), isDirectory(info) {
                result.append(child)
                result += subdirectories(of: child)
            }
        }
        return result
    }

    /// rmdir, retrying while the kernel still counts just-reaped tasks (EBUSY, briefly).
    static func removeEmpty(_ path: String) throws(FerryError) {
        let deadline = Monotonic.now + 2
        while rmdir(path) != 0 {
            let error = errno
            if error == ENOENT { return }
            guard error == EBUSY, Monotonic.now < deadline else {
                throw FerryError.system("rmdir", .init(rawValue: error), path: path)
            }
            usleep(20_000)
        }
    }

    /// The cgroup a process is in, per hierarchy mount point, from /proc/PID/cgroup.
    public static func membership(of pid: pid_t) -> [String: String] {
        let text = (try? readText("/proc/\(pid)/cgroup")) ?? ""
        var byControllers: [Set<String>: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else { continue }
            byControllers[Set(parts[1].split(separator: ",").map(String.init))] = String(parts[2])
        }
        var result: [String: String] = [:]
        for hierarchy in hierarchies() {
            if let path = byControllers[hierarchy.controllers] { result[hierarchy.mountPoint] = path }
        }
        return result
    }

    /// Moves `pid` back to the cgroups recorded by `membership(of:)`.
    public static func restore(_ pid: pid_t, to membership: [String: String]) throws(FerryError) {
        for (mountPoint, path) in membership {
            try writeText("\(mountPoint)\(path == "/" ? "" : path)/cgroup.procs", "\(pid)\n")
        }
    }
}
