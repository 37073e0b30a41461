/// The network filesystems a `--share` may be, one row each: how the host mounts it and
/// what /proc/self/mountinfo calls it. NFS and sshfs take the same path through Ferry; only
/// the row differs.
public enum ShareType: String, Sendable, Codable, CaseIterable {
    case sshfs, nfs, nfs4

    public var isNFS: Bool { self != .sshfs }

    /// The filesystem type the kernel shows for the mount.
    public var mountInfoType: String {
        switch self {
        case .sshfs: return "fuse.sshfs"
        case .nfs: return "nfs"
        case .nfs4: return "nfs4"
        }
    }

    /// Bounds on how long one connection attempt may take, so a file server that is down
    /// costs a start or a restore seconds, not TCP's minutes.
    static let connectTimeoutSeconds = 5
    /// The same at a restore, where a placeholder stands in for a share that does not
    /// answer: the restore waits for it inside the container's frozen window.
    static let restoreConnectTimeoutSeconds = 2

    /// The command that mounts `share` at `mountPoint` on this host.
    func mountCommand(_ share: NetworkShare, at mountPoint: String, connectTimeout: Int = connectTimeoutSeconds) -> [String] {
        switch self {
        case .sshfs:
            // reconnect + keepalives: a share that drops comes back by itself. allow_other:
            // the container's services run as any uid. BatchMode: ssh never prompts.
            var options = [
                "reconnect", "ServerAliveInterval=5", "ServerAliveCountMax=3", "ConnectTimeout=\(connectTimeout)",
                "BatchMode=yes", "allow_other",
            ]
            if let extra = share.options { options.append(extra) }
            var argv = ["sshfs", share.source, mountPoint, "-o", options.joined(separator: ",")]
            if let config = share.sshConfig { argv += ["-F", config] }
            return argv
        case .nfs, .nfs4:
            let options = ["timeo=\(connectTimeout * 10)", "retrans=1"] + (share.options.map { [$0] } ?? [])
            return ["mount", "-t", rawValue, "-o", options.joined(separator: ","), share.source, mountPoint]
        }
    }
}
