import FerryErrors
import FerrySystem
import Foundation
import Glibc
import Logging

/// The small process that owns a running container, as conmon does for Podman.
///
/// `ferry start` spawns it detached (`ferry __monitor`). It mounts the private area,
/// clones the container's init into new namespaces, reports the init's pid over fd 3, and
/// then waits: it is the init's parent, so it reaps it (this machine's pid 1 reaps
/// nobody) and tears the host side down — overlay, private area, cgroup — however the
/// container ends. It is a child subreaper, so a container restored later under it is
/// reaped the same way.
///
/// It must be single-threaded when it clones: the child runs Swift code before exec.
public struct ContainerMonitor {
    public let root: StateRoot
    public let name: ContainerName
    public let logger: Logger

    public init(root: StateRoot, name: ContainerName, logger: Logger) {
        self.root = root
        self.name = name
        self.logger = logger
    }

    /// Starts the container and supervises it; returns the monitor's exit code.
    public func run(report: OwnedFileDescriptor, launcher: any ContainerLauncher = FreshStart()) -> Int32 {
        let initPid: pid_t
        let runtime: ContainerRuntime
        let relay: ConsoleRelay
        do throws(FerryError) {
            runtime = try ContainerRuntime(root: root, name: name, logger: logger)
            guard ProcFS.threadCount() == 1 else {
                throw FerryError(.invalidState, "the container monitor must be single-threaded to clone the init")
            }
            try? ProcessControl.becomeChildSubreaper()
            let console = try ConsolePipes()
            relay = try ConsoleRelay(pipes: console, log: runtime.layout.consoleLog, socketPath: runtime.layout.consoleSocket)
            initPid = try start(runtime, launcher: launcher, console: console)
            relay.start()
        } catch {
            logger.error("start failed", metadata: ["container": "\(name)", "error": "\(error.message)"])
            MonitorHandshake.failed(error.message).send(on: report)
            return 1
        }
        // A fresh init that dies at once (a typo in its script, a missing library) is the
        // start's failure, with its status: `ferry start` says so instead of "started".
        if !launcher.recreatesTasks, let handle = try? ProcessHandle(pid: initPid), handle.waitForExit(seconds: Self.startGrace),
            let status = Spawn.reapIfExited(initPid)
        {
            end(runtime, status: status, relay: relay)
            MonitorHandshake.exited(status: status).send(on: report)
            return 1
        }
        MonitorHandshake.started(initPid: initPid).send(on: report)
        let status = waitForInit(initPid, runtime)
        return end(runtime, status: status, relay: relay)
    }

    /// How long a fresh init must live for its start to count: long enough for a shell
    /// script to fail on its first line, short enough not to slow every start.
    static let startGrace = 0.3

    /// After the init: its last output into the log, its status recorded, the host side
    /// torn down. Returns the monitor's exit code.
    @discardableResult
    private func end(_ runtime: ContainerRuntime, status: Int32, relay: ConsoleRelay) -> Int32 {
        logger.info("container init exited", metadata: ["container": "\(name)", "status": "\(status)"])
        if !relay.finish(seconds: 5) {
            logger.warning("the init's output did not end with it; its last lines may be missing", metadata: ["container": "\(name)"])
        }
        try? ExitRecord(status: status, at: Date()).write(runtime.layout)
        // A migrated copy that ends before its commit was never this host's: fenced.
        if let lease = MigrationLease.read(runtime.layout), lease.state == .pending, lease.deadline != nil {
            try? MigrationLease(state: .fenced, deadline: nil).write(runtime.layout)
        }
        do throws(FerryError) {
            try runtime.teardown()
            // A fenced copy was never this host's: it leaves nothing behind, even when its
            // source never comes back to abort it.
            if MigrationLease.read(runtime.layout)?.state == .fenced {
                try removeTree(runtime.layout.directory)
                logger.notice("fenced migration copy removed", metadata: ["container": "\(name)"])
            }
        } catch {
            logger.error("teardown failed", metadata: ["container": "\(name)", "error": "\(error.message)"])
            return 1
        }
        return 0
    }

    private func start(_ runtime: ContainerRuntime, launcher: any ContainerLauncher, console: ConsolePipes) throws(FerryError) -> pid_t {
        try runtime.privateArea.mount()
        do throws(FerryError) {
            try runtime.shares.mount(placeholder: { launcher.placeholderInventory(for: $0, of: runtime) })
            try runtime.userNamespaceDevices?.mount()
            try runtime.cgroups.create()
            try runtime.delegateCgroups()
            // Before the first task: a restored tree must land inside its limits too (but
            // for the task limit, which a restore's helpers would exceed; set right after).
            let limits = runtime.config.limits
            try (launcher.recreatesTasks ? limits?.withoutTaskLimit : limits)?.apply(to: runtime.cgroups)
            if runtime.config.profile == .hardened {
                try runtime.cgroups.restrictDevices(to: runtime.config.allowedDevices)
                try runtime.cgroups.attach(SecurityProfile.sysctlGuard)
            }
            let pid = try launcher.launch(runtime, console: console)
            console.closeInitSide()
            runtime.shares.restoreFinished()
            if launcher.recreatesTasks { try limits?.apply(to: runtime.cgroups) }
            // A migrated copy waiting for its source's commit: frozen at once (CRIU has just
            // let go of it), thawed by the commit, fenced if the lease runs out.
            if MigrationLease.read(runtime.layout)?.state == .pending { try freezeArrival(runtime) }
            guard let startTime = ProcFS.startTime(of: pid), let monitorStart = ProcFS.startTime(of: getpid()) else {
                throw FerryError(.invalidState, "container \(name) init (pid \(pid)) exited right after start")
            }
            let state = RuntimeState(
                initPid: pid, initStartTime: startTime, monitorPid: getpid(), monitorStartTime: monitorStart,
                rootfs: runtime.rootfs, cgroup: runtime.cgroup.path, startedAt: Date(), console: try console.keys())
            try JSONFile.write(state, to: runtime.layout.runtimeState)
            logger.info("container started", metadata: ["container": "\(name)", "pid": "\(pid)"])
            if !runtime.shares.placeholders.isEmpty { startShareReturn(runtime) }
            return pid
        } catch {
            // A launch that failed half-way (a CRIU killed mid-restore) may leave tasks in
            // the container's cgroup: none of them may run on, nor hold its mounts.
            runtime.cgroup.killAll()
            try? runtime.teardown()
            throw error
        }
    }

    /// A task waiting in a placeholder cannot freeze (the kernel waits for the daemon's
    /// answer, killably but not freezably); it runs no code either, and freezes as it
    /// returns once the share is back, since the freezer stays set. So with placeholders,
    /// a cgroup left FREEZING holds the copy as well as a FROZEN one.
    private func freezeArrival(_ runtime: ContainerRuntime) throws(FerryError) {
        guard !runtime.shares.placeholders.isEmpty else { return try runtime.cgroup.freeze() }
        do throws(FerryError) {
            try runtime.cgroup.freeze(timeout: 1)
        } catch {
            logger.notice("tasks waiting in a share placeholder freeze once the share is back", metadata: ["container": "\(name)"])
        }
    }

    /// A placeholder stands in for a share: `ferry __share-return` waits for its server
    /// and swaps the real share in (a checkpoint and restore that ends this monitor and
    /// starts the next), so it runs in a session of its own. Without it the container runs
    /// on its placeholders until it is stopped: a warning, not a failed start.
    private func startShareReturn(_ runtime: ContainerRuntime) {
        let environment = ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }
        do throws(FerryError) {
            guard let executable = RootedLookup.linkTarget("/proc/self/exe") else {
                throw FerryError(.invalidState, "cannot find the ferry executable (/proc/self/exe)")
            }
            _ = try Spawn.start(
                [executable, "__share-return", "--root", root.path, name.value], environment: environment,
                stdout: STDOUT_FILENO, stderr: STDERR_FILENO, newSession: true)
        } catch {
            logger.warning(
                "cannot start the share return: the container runs on its placeholders until stopped",
                metadata: ["container": "\(name)", "error": "\(error.message)"])
        }
    }

    /// Reaps children (orphans come to the monitor, a subreaper) until the init exits.
    /// While the container carries a migration lease, it wakes every second to enforce it.
    private func waitForInit(_ pid: pid_t, _ runtime: ContainerRuntime) -> Int32 {
        let handle = try? ProcessHandle(pid: pid)
        while true {
            guard let lease = MigrationLease.read(runtime.layout), lease.deadline != nil else {
                switch Spawn.reapAny() {
                case .success(let child) where child.pid == pid: return Spawn.decode(child.status)
                case .failure(.noChildProcess): return -1
                default: continue
                }
            }
            while let child = Spawn.reapAnyExited() {
                if child.pid == pid { return Spawn.decode(child.status) }
            }
            if lease.mustFence(at: BootClock.now) { fence(runtime) }
            _ = handle?.waitForExit(seconds: 1)
        }
    }

    /// The lease ran out before the source committed: this copy must never run. Marked
    /// first (a commit arriving now is refused), then every task killed and the freezer
    /// thawed so the kills land. The images stay for whoever decides next.
    private func fence(_ runtime: ContainerRuntime) {
        logger.warning("migration lease expired without a commit: fencing the copy", metadata: ["container": "\(name)"])
        MigrationLease.fence(runtime.layout, runtime.cgroup)
    }
}

/// How a container's init comes to be: cloned fresh, or restored from a checkpoint. The
/// monitor calls it with the private area mounted and the cgroup created.
public protocol ContainerLauncher {
    /// Returns the init's host pid; the init must be the caller's child. Its stdio are
    /// `console`'s init-side ends.
    func launch(_ runtime: ContainerRuntime, console: ConsolePipes) throws(FerryError) -> pid_t
    /// Whether the launch recreates a whole tree of tasks (a CRIU restore): its helpers
    /// and the zombies it rebuilds need tasks beyond the tree's own, so the task limit is
    /// set once the tree is back.
    var recreatesTasks: Bool { get }
    /// What the placeholder of share `share` must show if the share cannot be mounted;
    /// nil: the launch fails instead (a fresh start has no files to reopen there).
    func placeholderInventory(for share: Int, of runtime: ContainerRuntime) -> ShareInventory?
}

extension ContainerLauncher {
    public var recreatesTasks: Bool { false }
    public func placeholderInventory(for share: Int, of runtime: ContainerRuntime) -> ShareInventory? { nil }
}

/// The fresh start: clone the init into new namespaces (see ContainerInitSetup).
public struct FreshStart: ContainerLauncher {
    public init() {}

    public func launch(_ runtime: ContainerRuntime, console: ConsolePipes) throws(FerryError) -> pid_t {
        let systemd = runtime.runsSystemd
        let failure = try makePipe()
        let go = try makePipe()
        // The init is cloned from inside the container's cgroups, so that its cgroup
        // namespace (systemd's, and every hardened container's: the host's cgroup paths
        // stay out of sight) is rooted there; the monitor steps back out right after.
        let membership = CgroupSet.membership(of: getpid())
        try runtime.cgroups.add(getpid())
        let ownCgroupNamespace = systemd || runtime.config.profile == .hardened
        var namespaces: NamespaceSet = ownCgroupNamespace ? NamespaceSet.container.union(.cgroup) : NamespaceSet.container
        // Born together, the other namespaces belong to the user namespace: its root
        // administers its own mounts, network and hostname, and nothing of the host's.
        if runtime.config.userNamespace != nil { namespaces.insert(.user) }
        let forked = ProcessControl.fork(into: namespaces)
        if case .success(0) = forked {
            failure.read.close()
            go.write.close()
            var byte: [UInt8] = [0]
            _ = DescriptorIO.read(go.read.rawValue, into: &byte)
            do throws(FerryError) {
                try ContainerInitSetup(
                    config: runtime.config, rootfs: runtime.rootfs, systemd: systemd,
                    shareSources: runtime.config.declaredShares.indices.map(runtime.shares.mountPoint),
                    stdio: (input: console.input.read.rawValue, output: console.output.write.rawValue),
                    hostDevices: runtime.userNamespaceDevices?.path
                ).run()
            } catch {
                try? failure.write.write(error.message)
            }
            _exit(127)
        }
        let pid = (try? forked.get()) ?? -1
        failure.write.close()
        go.read.close()
        do throws(FerryError) {
            try CgroupSet.restore(getpid(), to: membership)
            if case .failure(let errno) = forked { throw FerryError.system("clone", errno) }
            if let map = runtime.config.userNamespace { try UserNamespace.writeMaps(of: pid, base: map.base, count: map.count) }
            // The init waits for "go": its eth0 is in place before anything inside runs.
            if let network = runtime.config.network {
                try NetworkAttachment(network: network, container: runtime.config.name).attach(initPid: pid)
            }
        } catch {
            if pid > 0 {
                _ = kill(pid, SIGKILL)
                _ = try? Spawn.wait(pid)
            }
            throw error
        }
        try go.write.write("g")
        go.write.close()
        // The pipe closes at exec: an empty read means the init is running.
        let message = String(decoding: (try? failure.read.readAll()) ?? [], as: UTF8.self)
        if !message.isEmpty {
            _ = try? Spawn.wait(pid)
            throw FerryError(.commandFailed, message)
        }
        return pid
    }
}
