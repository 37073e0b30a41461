import FerryErrors
import FerrySystem
import Logging

/// `ferry set NAME …`: what may change after create. Limits change at once in a running
/// container's cgroups (and in its config, for its next start, restore or migration);
/// the hostname and the binds only while it is stopped, since a running init has read
/// its hostname already and its mount tree is its own; autostart at any time.
public struct SettingsChange: Sendable {
    /// Each: a value, `none` to remove the limit, nil to leave it.
    public var memory: String?
    public var cpus: String?
    public var pids: String?
    public var hostname: String?
    /// Container paths whose binds go (applied before `binds`, so one command can move a
    /// bind's source: `--unbind /x --bind NEW:/x`).
    public var unbinds: [String] = []
    /// Binds to add, checked as `create --bind` checks them.
    public var binds: [BindMount] = []
    public var autostart: Bool?

    public init(memory: String? = nil, cpus: String? = nil, pids: String? = nil, hostname: String? = nil) {
        self.memory = memory
        self.cpus = cpus
        self.pids = pids
        self.hostname = hostname
    }

    public var isEmpty: Bool {
        memory == nil && cpus == nil && pids == nil && hostname == nil && unbinds.isEmpty && binds.isEmpty && autostart == nil
    }

    /// What needs the container stopped, as the refusal names it.
    var stoppedOnly: String? {
        switch (hostname != nil, !binds.isEmpty || !unbinds.isEmpty) {
        case (true, true): "its hostname and binds"
        case (true, false): "its hostname"
        case (false, true): "its binds"
        case (false, false): nil
        }
    }
}

extension ContainerManager {
    /// Applies `change` to the container; every value is checked before anything is
    /// written, so a bad one changes nothing.
    public func set(_ name: ContainerName, _ change: SettingsChange) throws(FerryError) -> ContainerConfig {
        guard !change.isEmpty else {
            throw FerryError(.invalidArgument, "nothing to set; give --memory, --cpus, --pids, --hostname, --bind, --unbind or --autostart")
        }
        let lock = try OperationLock(root: root, name: name)
        defer { withExtendedLifetime(lock) {} }
        let runtime = try runtime(name)
        var config = runtime.config
        let limits = try (config.limits ?? ResourceLimits()).changing(memory: change.memory, cpus: change.cpus, pids: change.pids)
        config.limits = limits.isEmpty ? nil : limits
        let state = runtime.loadState()
        if let what = change.stoppedOnly {
            switch state {
            case .running: throw FerryError(.invalidState, "container \(name) is running; 'ferry stop \(name)' before changing \(what)")
            case .unreadable(let error): throw error
            case .stopped, .crashed: break
            }
        }
        if let hostname = change.hostname {
            try Hostname.validate(hostname)
            config.hostname = hostname
        }
        if !change.binds.isEmpty || !change.unbinds.isEmpty {
            config.binds = try changedBinds(config, change, checkpoint: runtime.layout.checkpoint)
        }
        if let autostart = change.autostart { config.autostart = autostart ? true : nil }
        if case .running = state, config.limits != runtime.config.limits {
            // Live first: a limit the kernel refuses (memory below what is in use) leaves
            // the config as it was.
            try limits.apply(to: runtime.cgroups)
        }
        try saveConfig(config)
        logger.info("container settings changed", metadata: ["container": "\(name)", "limits": "\(config.limits?.summary ?? "none")"])
        return config
    }

    /// The binds after `--unbind` and `--bind`. A checkpoint that waits to be restored
    /// holds the binds as they were dumped (CRIU re-attaches exactly those), so they stay.
    private func changedBinds(_ config: ContainerConfig, _ change: SettingsChange, checkpoint: String) throws(FerryError) -> [BindMount] {
        let name = config.name
        if case .unused = CheckpointUse.state(of: checkpoint) {
            throw FerryError(
                .invalidState,
                "container \(name) has a checkpoint that was never restored, and it brings the binds back as they were; 'ferry restore \(name)' and stop it, or 'ferry start \(name) --fresh' and stop it, before changing its binds")
        }
        var binds = config.binds
        for path in change.unbinds {
            let target = try HostMountCheck.normalTarget(path)
            guard let index = binds.firstIndex(where: { (try? HostMountCheck.normalTarget($0.destination)) == target }) else {
                let existing = binds.map(\.destination).joined(separator: ", ")
                throw FerryError(.notFound, "container \(name) has no bind at \(path); its binds: \(existing.isEmpty ? "none" : existing)")
            }
            binds.remove(at: index)
        }
        try HostMountCheck.validate(
            addedBinds: change.binds, keptTargets: binds.map(\.destination) + config.declaredShares.map(\.target))
        return binds + change.binds
    }
}
