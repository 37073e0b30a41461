import FerryErrors
import Glibc

/// A network share the container uses (`--share type=sshfs|nfs|nfs4,source=SRC,target=PATH
/// [,ssh-config=FILE][,options=REST]`).
///
/// Ferry mounts it on whichever host runs the container, below the container's directory,
/// and binds it in at `target`: the share belongs to the host's network, not to the
/// container's. CRIU sees the bind as an external mount; on a restore the share is mounted
/// on the new host first and handed to CRIU, so open files reopen on the real share.
public struct NetworkShare: Sendable, Codable, Equatable {
    public var type: ShareType
    /// What the filesystem's mount takes as its source (`HOST:PATH`, `user@HOST:PATH`).
    public var source: String
    /// Where the container sees it (an absolute container path).
    public var target: String
    /// An ssh_config for sshfs (host names, keys, known hosts): a file on every host.
    public var sshConfig: String?
    /// The filesystem's own mount options, passed on as given.
    public var options: String?

    public init(type: ShareType, source: String, target: String, sshConfig: String? = nil, options: String? = nil) {
        self.type = type
        self.source = source
        self.target = target
        self.sshConfig = sshConfig
        self.options = options
    }

    /// Parses the `--share` value. `options=` takes the rest of the text, commas included,
    /// so it comes last.
    public init(parsing text: String) throws(FerryError) {
        var fields: [String: String] = [:]
        var rest = Substring(text)
        while !rest.isEmpty {
            if rest.hasPrefix("options=") {
                fields["options"] = String(rest.dropFirst("options=".count))
                break
            }
            let field = rest.prefix { $0 != "," }
            rest = rest.dropFirst(field.count + 1)
            guard let equals = field.firstIndex(of: "="), equals != field.startIndex else {
                throw FerryError(.invalidArgument, "share '\(text)': '\(field)' is not KEY=VALUE; use type=…,source=…,target=…")
            }
            let key = String(field[..<equals])
            guard ["type", "source", "target", "ssh-config"].contains(key) else {
                throw FerryError(.invalidArgument, "share '\(text)': unknown key '\(key)'; use type, source, target, ssh-config or options")
            }
            guard fields[key] == nil else {
                throw FerryError(.invalidArgument, "share '\(text)': '\(key)' is given twice")
            }
            fields[key] = String(field[field.index(after: equals)...])
        }
        guard let typeName = fields["type"] else {
            throw FerryError(.invalidArgument, "share '\(text)' has no type; add type=sshfs, type=nfs or type=nfs4")
        }
        guard let type = ShareType(rawValue: typeName) else {
            throw FerryError(.invalidArgument, "share '\(text)': unknown type '\(typeName)'; use sshfs, nfs or nfs4")
        }
        guard let source = fields["source"], !source.isEmpty else {
            throw FerryError(.invalidArgument, "share '\(text)' has no source; add source=HOST:PATH")
        }
        guard let target = fields["target"], target.hasPrefix("/"), target != "/" else {
            throw FerryError(.invalidArgument, "share '\(text)' needs target=PATH, an absolute path in the container other than /")
        }
        let options = fields["options"].flatMap { $0.isEmpty ? nil : $0 }
        self.init(type: type, source: source, target: target, sshConfig: fields["ssh-config"], options: options)
        try validate()
    }

    /// What `ferry create` checks before it writes anything.
    public func validate() throws(FerryError) {
        let colon = source.firstIndex(of: ":")
        guard let colon, colon != source.startIndex, source.index(after: colon) != source.endIndex else {
            throw FerryError(.invalidArgument, "share source '\(source)' is not HOST:PATH")
        }
        if type.isNFS, !source[source.index(after: colon)...].hasPrefix("/") {
            throw FerryError(.invalidArgument, "nfs share source '\(source)' needs an absolute export path (HOST:/PATH)")
        }
        guard target.split(separator: "/").allSatisfy({ $0 != ".." && $0 != "." }) else {
            throw FerryError(.invalidArgument, "share target '\(target)' must not contain . or ..")
        }
        if let sshConfig {
            guard type == .sshfs else {
                throw FerryError(.invalidArgument, "share \(target): ssh-config is for type=sshfs only")
            }
            guard sshConfig.hasPrefix("/") else {
                throw FerryError(.invalidArgument, "share \(target): ssh-config '\(sshConfig)' must be an absolute path")
            }
            guard access(sshConfig, R_OK) == 0 else {
                throw FerryError(.notFound, "share \(target): ssh-config \(sshConfig) cannot be read on this host; give an existing file")
            }
        }
    }

    /// How `ferry status` shows it.
    public var summary: String { "\(type.rawValue) \(source) at \(target)" }
}
