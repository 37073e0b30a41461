/// A target host as ssh knows it. Trust is ssh's own: known_hosts and keys, from the
/// admin's ssh configuration (or `--ssh-config FILE`); Ferry adds nothing home-made.
public struct SSHTarget: Sendable, Codable, Equatable {
    public var destination: String
    public var configFile: String?
    /// A control socket: the agent's ssh session becomes the master and every rsync rides
    /// on it, so the frozen phase pays for no new ssh handshakes. Not persisted: it dies
    /// with the agent session.
    public var controlPath: String?

    public static let connectTimeout = 15

    /// The control path is not part of a journal: a recovery must never reach for the
    /// socket of a run that died (its master may hang), so it is left out when encoded.
    private enum CodingKeys: String, CodingKey { case destination, configFile }

    public init(destination: String, configFile: String? = nil, controlPath: String? = nil) {
        self.destination = destination
        self.configFile = configFile
        self.controlPath = controlPath
    }

    /// `ssh` with BatchMode (never prompt) and the config file, ready for a destination.
    /// Every wait is bounded: the connection attempt (ConnectTimeout) and a link that goes
    /// silent (keepalives every 5 s, given up after 3 unanswered: 15 s), so a cut link fails
    /// the step instead of leaving the container frozen for TCP's hours.
    public var sshCommand: [String] {
        var command = ["ssh", "-o", "BatchMode=yes"] + (configFile.map { ["-F", $0] } ?? [])
        command += ["-o", "ConnectTimeout=\(Self.connectTimeout)", "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3"]
        if let controlPath {
            command += ["-o", "ControlMaster=auto", "-o", "ControlPath=\(controlPath)", "-o", "ControlPersist=no"]
        }
        return command
    }

    /// The same as one string, for rsync's `-e`.
    public var rsyncShell: String {
        sshCommand.map { $0.contains(" ") ? "'\($0)'" : $0 }.joined(separator: " ")
    }
}
