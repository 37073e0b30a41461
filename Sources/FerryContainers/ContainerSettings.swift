import FerryErrors
import FerrySystem
import Logging

/// `ferry set NAME …`: what may change after create. Limits change at once in a running
/// container's cgroups (and in its config, for its next start, restore or migration);
/// the hostname only while it is stopped, since a running init has read it already.
public struct SettingsChange: Sendable {
    /// Each: a value, `none` to remove the limit, nil to leave it.
    public var memory: String?
    public var cpus: String?
    public var pids: String?
    public var hostname: String?

    public init(memory: String? = nil, cpus: String? = nil, pids: String? = nil, hostname: String? = nil) {
        self.memory = memory
        self.cpus = cpus
        self.pids = pids
        self.hostname = hostname
    }

    public var isEmpty: Bool { memory == nil && cpus == nil && pids == nil && hostname == nil }
}

extension ContainerManager {
    /// Applies `change` to the container; every value is checked before anything is
    /// written, so a bad one changes nothing.
    public func set(_ name: ContainerName, _ change: SettingsChange) throws(FerryError) -> ContainerConfig {
        guard !change.isEmpty else {
            throw FerryError(.invalidArgument, "nothing to set; give --memory, --cpus, --pids or --hostname")
        }
        let lock = try OperationLock(root: root, name: name)
        defer { withExtendedLifetime(lock) {} }
        let runtime = try runtime(name)
        var config = runtime.config
        let limits = try (config.limits ?? ResourceLimits()).changing(memory: change.memory, cpus: change.cpus, pids: change.pids)
        config.limits = limits.isEmpty ? nil : limits
        let state = runtime.loadState()
        if let hostname = change.hostname {
            try Hostname.validate(hostname)
            switch state {
            case .running: throw FerryError(.invalidState, "container \(name) is running; 'ferry stop \(name)' before changing its hostname")
            case .unreadable(let error): throw error
            case .stopped, .crashed: config.hostname = hostname
            }
        }
        if case .running = state, config.limits != runtime.config.limits {
            // Live first: a limit the kernel refuses (memory below what is in use) leaves
            // the config as it was.
            try limits.apply(to: runtime.cgroups)
        }
        try saveConfig(config)
        logger.info("container settings changed", metadata: ["container": "\(name)", "limits": "\(config.limits?.summary ?? "none")"])
        return config
    }
}
