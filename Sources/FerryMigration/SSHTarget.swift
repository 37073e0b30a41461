/// A target host as ssh knows it. Trust is ssh's own: known_hosts and keys, from the
/// admin's ssh configuration (or `--ssh-config FILE`); Ferry adds nothing home-made.
public struct SSHTarget: Sendable, Codable, Equatable {
    public var destination: String
    public var configFile: String?
    /// A control socket: the agent's ssh session becomes the master and every rsync rides
    /// on it, so the frozen phase pays for no new ssh handshakes. Not persisted: it dies
    /// with the agent session.
    public var controlPath: String?

    public init(destination: String, configFile: String? = nil, controlPath: String? = nil) {
        self.destination = destination
        self.configFile = configFile
        self.controlPath = controlPath
    }

    /// `ssh` with BatchMode (never prompt) and the config file, ready for a destination.
    public var sshCommand: [String] {
        var command = ["ssh", "-o", "BatchMode=yes"] + (configFile.map { ["-F", $0] } ?? [])
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
