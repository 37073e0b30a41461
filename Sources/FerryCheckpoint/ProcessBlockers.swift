import FerryErrors
import FerrySystem
import Glibc

/// What Ferry reads of one container process to decide whether CRIU can carry it here.
public struct ProcessFacts: Sendable, Equatable {
    public var hostPid: Int32
    public var containerPid: Int32
    public var command: String
    /// Real, effective, saved and filesystem uids and gids (/proc/PID/status).
    public var uids: [UInt32]
    public var gids: [UInt32]
    public var utsNamespace: UInt64?
    /// What each open descriptor points at (readlink of /proc/PID/fd/N).
    public var descriptors: [String]
    /// The descriptors on the mounts the caller asked about, with what each file is.
    public var files: [OpenFile]
    /// Paths of the unix sockets bound in the process's network namespace (/proc/PID/net/unix).
    public var boundSockets: [String]

    /// An open descriptor of a named file: where it is and what kind.
    public struct OpenFile: Sendable, Equatable {
        public enum Kind: Sendable, Equatable { case regular, directory, fifo, other }
        /// The path as the container sees it, without the kernel's " (deleted)".
        public var path: String
        public var kind: Kind
        /// The mount it was opened through (fdinfo's mnt_id, mountinfo's first field).
        public var mountID: Int
        public var deleted: Bool

        public init(path: String, kind: Kind, mountID: Int, deleted: Bool = false) {
            self.path = path
            self.kind = kind
            self.mountID = mountID
            self.deleted = deleted
        }
    }

    public init(
        hostPid: Int32, containerPid: Int32, command: String, uids: [UInt32], gids: [UInt32], utsNamespace: UInt64?, descriptors: [String],
        files: [OpenFile] = [], boundSockets: [String] = []
    ) {
        self.hostPid = hostPid
        self.containerPid = containerPid
        self.command = command
        self.uids = uids
        self.gids = gids
        self.utsNamespace = utsNamespace
        self.descriptors = descriptors
        self.files = files
        self.boundSockets = boundSockets
    }

    /// Reads the facts from /proc; nil for a process that is gone. Only descriptors opened
    /// through `mounts` are stat'ed (for `files`): a stat reaches the filesystem, and a
    /// network share whose server is away would hang it. Bound sockets are read only when
    /// there are such mounts to look for them on.
    public static func read(hostPid: pid_t, lookingInto mounts: Set<Int> = []) -> ProcessFacts? {
        guard let status = ProcFS.Status(of: "\(hostPid)") else { return nil }
        let fdDirectory = "/proc/\(hostPid)/fd"
        var descriptors: [String] = []
        var files: [OpenFile] = []
        for entry in (try? directoryEntries(fdDirectory)) ?? [] {
            guard let target = RootedLookup.linkTarget("\(fdDirectory)/\(entry)") else { continue }
            descriptors.append(target)
            // A path, not pipe:[…] or socket:[…]; stat through the magic link reaches the
            // file itself, deleted or not.
            guard target.hasPrefix("/"), !mounts.isEmpty, let mountID = Self.mountID(hostPid, descriptor: entry), mounts.contains(mountID),
                let info = fileStatus("\(fdDirectory)/\(entry)")
            else { continue }
            let deleted = target.hasSuffix(" (deleted)")
            let kind: OpenFile.Kind
            switch info.st_mode & S_IFMT {
            case S_IFREG: kind = .regular
            case S_IFDIR: kind = .directory
            case S_IFIFO: kind = .fifo
            default: kind = .other
            }
            files.append(OpenFile(
                path: deleted ? String(target.dropLast(" (deleted)".count)) : target, kind: kind,
                mountID: mountID, deleted: deleted))
        }
        return ProcessFacts(
            hostPid: hostPid, containerPid: status.values("NSpid").last.flatMap { Int32($0) } ?? hostPid,
            command: status.values("Name").joined(separator: " "), uids: status.values("Uid").compactMap { UInt32($0) },
            gids: status.values("Gid").compactMap { UInt32($0) }, utsNamespace: Namespaces.identity(pid: hostPid, "uts"),
            descriptors: descriptors, files: files, boundSockets: mounts.isEmpty ? [] : Self.boundSockets(hostPid))
    }

    /// fdinfo's `mnt_id:`: read from /proc, without touching the file's filesystem.
    static func mountID(_ pid: pid_t, descriptor: String) -> Int? {
        guard let text = try? readText("/proc/\(pid)/fdinfo/\(descriptor)") else { return nil }
        let line = text.split(separator: "\n").first { $0.hasPrefix("mnt_id:") }
        return line.flatMap { Int($0.dropFirst("mnt_id:".count).trimmingCharacters(in: .whitespaces)) }
    }

    /// The paths in /proc/PID/net/unix: its last column, for a socket bound to a path.
    static func boundSockets(_ pid: pid_t) -> [String] {
        guard let text = try? readText("/proc/\(pid)/net/unix") else { return [] }
        return text.split(separator: "\n").dropFirst().compactMap { line in
            let columns = line.split(separator: " ", omittingEmptySubsequences: true)
            guard columns.count >= 8, columns[7].hasPrefix("/") else { return nil }
            return String(columns[7])
        }
    }
}

/// A process CRIU cannot dump on this host, and why: found before anything is frozen.
public struct ProcessBlocker: Sendable, Codable, Equatable {
    public var pid: Int32
    public var command: String
    public var reason: String
}

/// The rules, one per limit measured on this machine (../shared/CRIU-FACTS.md).
public enum ProcessRules {
    /// Whether this host's bounding set has CAP_SYS_RESOURCE, which CRIU needs to read the
    /// rlimits of a task with another uid.
    public static var hostHasSysResource: Bool {
        guard let status = ProcFS.Status(of: "self") else { return false }
        return status.mask("CapBnd") & (1 << 24) != 0
    }

    public static func blockers(_ processes: [ProcessFacts], initUTS: UInt64?, hostHasSysResource: Bool) -> [ProcessBlocker] {
        var result: [ProcessBlocker] = []
        for process in processes {
            func block(_ reason: String) {
                result.append(ProcessBlocker(pid: process.containerPid, command: process.command, reason: reason))
            }
            if !hostHasSysResource, let id = (process.uids + process.gids).first(where: { $0 != 0 }) {
                block(
                    "runs as uid/gid \(id), and this host lacks CAP_SYS_RESOURCE, which CRIU needs to read its rlimits; run the service as root (User=root) or stop it before the checkpoint")
            }
            if let initUTS, let uts = process.utsNamespace, uts != initUTS {
                block("has a uts namespace of its own (systemd's ProtectHostname=), which CRIU cannot dump; restart it with ProtectHostname=no")
            }
            if process.descriptors.contains(where: { $0.hasPrefix("anon_inode:bpf-") }) {
                block("holds a BPF program or map (systemd's IPAddressDeny=/IPAddressAllow=), which CRIU cannot dump; only a fresh boot releases them")
            }
        }
        return result
    }
}

