/// A target host as ssh knows it. Trust is ssh's own: known_hosts and keys, from the
/// admin's ssh configuration (or `--ssh-config FILE`); Ferry adds nothing home-made.
public struct SSHTarget: Sendable, Codable, Equatable {
    public var destination: String
    public var configFile: String?

    public init(destination: String, configFile: String? = nil) {
        self.destination = destination
        self.configFile = configFile
    }

    /// `ssh` with BatchMode (never prompt) and the config file, ready for a destination.
    public var sshCommand: [String] {
        ["ssh", "-o", "BatchMode=yes"] + (configFile.map { ["-F", $0] } ?? [])
    }

    /// The same as one string, for rsync's `-e`.
    public var rsyncShell: String {
        sshCommand.map { $0.contains(" ") ? "'\($0)'" : $0 }.joined(separator: " ")
    }
}
