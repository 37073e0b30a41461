import FerryErrors
import FerrySystem
import Glibc
import Logging

/// The host side of a container's `--share`s: each mounted below the container's
/// directory (`shares/N`) on whichever host runs it, before its first task; unmounted
/// after its last task is gone.
///
/// The monitor mounts them in the host's mount namespace, so every start, restore and
/// migration target does it the same way; the container sees only the bind of each.
public struct ShareMounts {
    public let config: ContainerConfig
    public let layout: ContainerLayout
    public let logger: Logger

    public init(config: ContainerConfig, layout: ContainerLayout, logger: Logger) {
        self.config = config
        self.layout = layout
        self.logger = logger
    }

    /// Where share `index` is mounted on this host.
    public func mountPoint(_ index: Int) -> String { layout.shareMountPoint(index) }

    /// Mounts every share that is not mounted yet; undoes its own mounts if one fails.
    public func mount() throws(FerryError) {
        var mounted: [Int] = []
        for (index, share) in config.declaredShares.enumerated() {
            let path = mountPoint(index)
            if try MountTable.isMountPoint(path) { continue }
            do throws(FerryError) {
                try mountOne(share, at: path, index: index)
                mounted.append(index)
            } catch {
                for done in mounted.reversed() { try? unmountOne(mountPoint(done)) }
                throw error
            }
        }
    }

    /// Unmounts every share still mounted. Lazily: a share whose server is gone must not
    /// keep the container's teardown waiting on the network.
    public func unmount() throws(FerryError) {
        for index in config.declaredShares.indices.reversed() {
            try unmountOne(mountPoint(index))
        }
    }

    /// Mounts and unmounts every share at a scratch place: whether this host reaches each
    /// server, found out before a migration's source freezes (a restore that cannot mount
    /// a share fails, and so would the undo on a source cut off from the same server).
    public static func probe(_ config: ContainerConfig, under directory: String, logger: Logger) throws(FerryError) {
        guard !config.declaredShares.isEmpty else { return }
        let trial = ShareMounts(config: config, layout: ContainerLayout(directory: directory), logger: logger)
        defer {
            try? trial.unmount()
            try? removeTree(directory)
        }
        try trial.mount()
    }

    private func mountOne(_ share: NetworkShare, at path: String, index: Int) throws(FerryError) {
        try makeDirectories(path)
        // A file, not a pipe: sshfs's ssh inherits stderr and outlives the mount command.
        let logPath = layout.shareLog(index)
        let log = try OwnedFileDescriptor.open(logPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode: 0o600)
        let argv = share.type.mountCommand(share, at: path)
        let pid = try Spawn.start(argv, stdout: log.rawValue, stderr: log.rawValue, onInterrupt: .runsToItsEnd)
        log.close()
        let status = try Spawn.wait(pid)
        guard status == 0, try MountTable.isMountPoint(path) else {
            let text = (try? OwnedFileDescriptor.open(logPath, O_RDONLY).readAll()).map { String(decoding: $0, as: UTF8.self) } ?? ""
            let reason = text.split(separator: "\n").last.map(String.init) ?? "exit status \(status)"
            throw FerryError(
                .commandFailed,
                "cannot mount share \(share.source) (\(share.type.rawValue)) for \(share.target) of container \(config.name): \(reason); check that its server is reachable from this host",
                cause: .output(command: argv.joined(separator: " "), status: status, text: text))
        }
        logger.info("share mounted", metadata: ["source": "\(share.source)", "path": "\(path)"])
    }

    private func unmountOne(_ path: String) throws(FerryError) {
        guard try MountTable.isMountPoint(path) else { return }
        try Mounts.unmount(path, detach: true)
        logger.debug("share unmounted", metadata: ["path": "\(path)"])
    }
}
