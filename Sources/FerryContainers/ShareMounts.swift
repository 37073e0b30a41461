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

    /// Mounts every share that is not mounted yet, all at once (a server that is away
    /// costs one connect timeout, not one per share); undoes its own mounts if one fails.
    /// `placeholder` gives, for a share that cannot be mounted, what its placeholder must
    /// show (a restore knows: the files its processes hold there); nil fails the mount.
    /// With a placeholder to fall back on, a server gets a shorter connect timeout: the
    /// restore it would hold up is in the container's frozen window.
    public func mount(placeholder: (Int) -> ShareInventory? = { _ in nil }) throws(FerryError) {
        var attempts: [(index: Int, attempt: MountAttempt)] = []
        var failures: [(index: Int, error: FerryError)] = []
        for (index, share) in config.declaredShares.enumerated() where try !MountTable.isMountPoint(mountPoint(index)) {
            let timeout = placeholder(index) == nil ? ShareType.connectTimeoutSeconds : ShareType.restoreConnectTimeoutSeconds
            do throws(FerryError) {
                attempts.append((index, try startMount(share, at: mountPoint(index), index: index, connectTimeout: timeout)))
            } catch {
                failures.append((index, error))
            }
        }
        var mounted: [Int] = []
        for (index, attempt) in attempts {
            do throws(FerryError) {
                try attempt.finish(logger)
                mounted.append(index)
            } catch {
                failures.append((index, error))
            }
        }
        do throws(FerryError) {
            for (index, error) in failures.sorted(by: { $0.index < $1.index }) {
                let share = config.declaredShares[index]
                guard let inventory = placeholder(index) else { throw error }
                logger.warning(
                    "share unreachable: a placeholder stands in until it is back",
                    metadata: ["source": "\(share.source)", "error": "\(error.message)"])
                _ = try SharePlaceholder.start(share, index: index, inventory: inventory, layout: layout)
                mounted.append(index)
            }
        } catch {
            for done in mounted.reversed() { try? unmountShare(done) }
            throw error
        }
    }

    /// Unmounts every share still mounted. Lazily: a share whose server is gone must not
    /// keep the container's teardown waiting on the network.
    public func unmount() throws(FerryError) {
        for index in config.declaredShares.indices.reversed() {
            try unmountShare(index)
        }
    }

    private func unmountShare(_ index: Int) throws(FerryError) {
        guard let placeholder = SharePlaceholder.read(layout, index) else {
            try unmountOne(mountPoint(index))
            return
        }
        // Not lazily: the last writes through a mapping reach the share (the daemon
        // proxies them) before the placeholder goes; lazily only if something holds it.
        if try MountTable.isMountPoint(mountPoint(index)), umount2(mountPoint(index), 0) != 0 {
            try unmountOne(mountPoint(index))
        }
        placeholder.end()
        try unmountOne(layout.shareReturnPoint(index))
        unlink(layout.sharePlaceholder(index))
        unlink(layout.shareInventory(index))
        _ = rmdir(layout.shareReturnPoint(index))
    }

    /// The shares a placeholder stands in for, by index.
    public var placeholders: [Int: SharePlaceholder] {
        var result: [Int: SharePlaceholder] = [:]
        for index in config.declaredShares.indices {
            if let placeholder = SharePlaceholder.read(layout, index), placeholder.alive { result[index] = placeholder }
        }
        return result
    }

    /// CRIU is done reopening files: the placeholders stop answering from their inventory.
    public func restoreFinished() {
        for placeholder in placeholders.values { placeholder.signal(SharePlaceholder.restoreFinishedSignal) }
    }

    /// Tries to mount share `index` at its return point, beside its placeholder; when it
    /// mounts, the placeholder serves from it (its waiting tasks go on) until the swap.
    public func mountReturned(_ index: Int) throws(FerryError) {
        guard var placeholder = SharePlaceholder.read(layout, index), placeholder.alive, !placeholder.returned else { return }
        let path = layout.shareReturnPoint(index)
        if try !MountTable.isMountPoint(path) {
            try mountOne(config.declaredShares[index], at: path, index: index)
        }
        // The container may have stopped meanwhile: its teardown ended the placeholder.
        guard SharePlaceholder.read(layout, index) != nil, placeholder.alive else {
            try unmountOne(path)
            return
        }
        placeholder.signal(SharePlaceholder.shareReturnedSignal)
        placeholder.returned = true
        try placeholder.write(layout, index)
    }

    private func mountOne(_ share: NetworkShare, at path: String, index: Int) throws(FerryError) {
        try startMount(share, at: path, index: index, connectTimeout: ShareType.connectTimeoutSeconds).finish(logger)
    }

    /// A mount command on its way: started by `startMount`, judged by `finish`.
    struct MountAttempt {
        let share: NetworkShare
        let container: ContainerName
        let path: String
        let logPath: String
        let argv: [String]
        let pid: pid_t

        /// How long a freshly mounted share may take to answer a stat of its root.
        let answerSeconds: Double

        func finish(_ logger: Logger) throws(FerryError) {
            let status = try Spawn.wait(pid)
            // sshfs may exit 0 with its mount in place while its ssh is still connecting,
            // and then give up: a share counts as mounted once its root answers.
            guard status == 0, try MountTable.isMountPoint(path), ShareMounts.answers(path, within: answerSeconds) else {
                // A mount that never answered is not left behind: a placeholder goes there
                // next, or the next try at the return point would take it for the share.
                if (try? MountTable.isMountPoint(path)) == true { try? Mounts.unmount(path, detach: true) }
                let text = (try? OwnedFileDescriptor.open(logPath, O_RDONLY).readAll()).map { String(decoding: $0, as: UTF8.self) } ?? ""
                let reason = text.split(separator: "\n").last.map(String.init) ?? "exit status \(status)"
                throw FerryError(
                    .commandFailed,
                    "cannot mount share \(share.source) (\(share.type.rawValue)) for \(share.target) of container \(container): \(reason); check that its server is reachable from this host",
                    cause: .output(command: argv.joined(separator: " "), status: status, text: text))
            }
            logger.info("share mounted", metadata: ["source": "\(share.source)", "path": "\(path)"])
        }
    }

    private func startMount(_ share: NetworkShare, at path: String, index: Int, connectTimeout: Int) throws(FerryError) -> MountAttempt {
        try makeDirectories(path)
        // A file, not a pipe: sshfs's ssh inherits stderr and outlives the mount command.
        let logPath = layout.shareLog(index)
        let log = try OwnedFileDescriptor.open(logPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode: 0o600)
        defer { log.close() }
        let argv = share.type.mountCommand(share, at: path, connectTimeout: connectTimeout)
        let pid = try Spawn.start(argv, stdout: log.rawValue, stderr: log.rawValue, onInterrupt: .runsToItsEnd)
        return MountAttempt(
            share: share, container: config.name, path: path, logPath: logPath, argv: argv, pid: pid,
            answerSeconds: Double(connectTimeout + 1))
    }

    /// Whether a stat of `path` returns within `seconds`: run in a child process, which is
    /// killed if it does not (a stat on a network share that is away would wait for it).
    static func answers(_ path: String, within seconds: Double) -> Bool {
        guard let pid = try? Spawn.start(["stat", "-c", "%i", path], onInterrupt: .runsToItsEnd),
            let child = try? ProcessHandle(pid: pid)
        else { return false }
        if !child.waitForExit(seconds: seconds) { _ = kill(pid, SIGKILL) }
        return (try? Spawn.wait(pid)) == 0
    }

    private func unmountOne(_ path: String) throws(FerryError) {
        guard try MountTable.isMountPoint(path) else { return }
        try Mounts.unmount(path, detach: true)
        logger.debug("share unmounted", metadata: ["path": "\(path)"])
    }
}
