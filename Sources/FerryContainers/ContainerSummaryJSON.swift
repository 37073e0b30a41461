/// `ferry list --json` and `status --json` (docs/json/ferry.schema.json, `container`):
/// explicit keys, every key always present (`null` when absent), sizes in bytes, the
/// storage as an object. A field added to the summary is added here and to the schema.
extension ContainerManager.Summary {
    private enum CodingKeys: String, CodingKey {
        case name, status, pid, startedAt, hostname, problem, storage, overlay, rootfs, binds, command, migration, security, userNamespace, devices, network
        case hostInterface, limits, checkpoint, shares, autostart, lastExit
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(status, forKey: .status)
        try container.encode(pid, forKey: .pid)
        try container.encode(startedAt, forKey: .startedAt)
        try container.encode(hostname, forKey: .hostname)
        try container.encode(problem, forKey: .problem)
        try container.encode(StorageJSON(storage), forKey: .storage)
        try container.encode(overlay, forKey: .overlay)
        try container.encode(rootfs, forKey: .rootfs)
        try container.encode(binds, forKey: .binds)
        try container.encode(command, forKey: .command)
        try container.encode(migration, forKey: .migration)
        try container.encode(security, forKey: .security)
        try container.encode(userNamespace, forKey: .userNamespace)
        try container.encode(devices, forKey: .devices)
        try container.encode(network, forKey: .network)
        try container.encode(hostInterface, forKey: .hostInterface)
        try container.encode(limits.map(LimitsJSON.init), forKey: .limits)
        try container.encode(DefaultCheckpointJSON(checkpoint), forKey: .checkpoint)
        try container.encode(shares, forKey: .shares)
        try container.encode(autostart, forKey: .autostart)
        try container.encode(lastExit, forKey: .lastExit)
    }
}

extension ContainerManager.ShareSummary {
    private enum CodingKeys: String, CodingKey {
        case type, source, target, sshConfig, options, mountPoint, mounted, placeholderSince, returned
    }

    /// The share's declaration and its state on this host, in one flat object.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(share.type, forKey: .type)
        try container.encode(share.source, forKey: .source)
        try container.encode(share.target, forKey: .target)
        try container.encode(share.sshConfig, forKey: .sshConfig)
        try container.encode(share.options, forKey: .options)
        try container.encode(mountPoint, forKey: .mountPoint)
        try container.encode(mounted, forKey: .mounted)
        try container.encode(placeholderSince, forKey: .placeholderSince)
        try container.encode(returned, forKey: .returned)
    }
}

/// The storage as an object: `kind` (shared or insulated), and for an insulated area the
/// image file and its size in bytes, or the device; `null` where a kind has none.
private struct StorageJSON: Encodable {
    var kind: String
    var imageFile: String?
    var imageBytes: Int?
    var device: String?

    init(_ storage: ContainerConfig.Storage) {
        switch storage {
        case .shared: kind = "shared"
        case .insulatedImage(let file, let size):
            kind = "insulated"
            imageFile = file
            imageBytes = Int(clamping: size)
        case .insulatedDevice(let path):
            kind = "insulated"
            device = path
        }
    }

    private enum CodingKeys: String, CodingKey { case kind, imageFile, imageBytes, device }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kind, forKey: .kind)
        try container.encode(imageFile, forKey: .imageFile)
        try container.encode(imageBytes, forKey: .imageBytes)
        try container.encode(device, forKey: .device)
    }
}

/// The default checkpoint, `null` without one: when it was made, and whether a restore (or
/// a fresh start) has used it, when and which.
private struct DefaultCheckpointJSON: Encodable {
    let state: CheckpointUse.State

    init?(_ state: CheckpointUse.State) {
        if case .none = state { return nil }
        self.state = state
    }

    private enum CodingKeys: String, CodingKey { case createdAt, used, usedBy, usedAt }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        let use: CheckpointUse?
        switch state {
        case .none: return
        case .unused(let createdAt):
            try container.encode(createdAt, forKey: .createdAt)
            use = nil
        case .used(let used, let createdAt):
            try container.encode(createdAt, forKey: .createdAt)
            use = used
        }
        try container.encode(use != nil, forKey: .used)
        try container.encode(use?.by, forKey: .usedBy)
        try container.encode(use?.at, forKey: .usedAt)
    }
}

/// The limits with every key: `null` for a limit not set.
private struct LimitsJSON: Encodable {
    var limits: ResourceLimits

    private enum CodingKeys: String, CodingKey { case memoryBytes, cpus, pids }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(limits.memoryBytes.map { Int(clamping: $0) }, forKey: .memoryBytes)
        try container.encode(limits.cpus, forKey: .cpus)
        try container.encode(limits.pids, forKey: .pids)
    }
}
