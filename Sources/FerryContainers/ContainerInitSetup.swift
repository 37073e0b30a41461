import FerryErrors
import FerrySystem
import Glibc

/// What runs inside a freshly cloned container process, before it becomes the init.
///
/// The process is pid 1 of a new pid namespace and alone in new mount, uts, ipc and net
/// namespaces. It builds the container's view of the world and execs the init. Everything
/// here is chosen so that CRIU can dump the result later (see shared/CRIU-FACTS.md): the
/// init leads its own session, the root is a recursive self-bind, /dev is a tmpfs with
/// real device nodes (a bind of the host's /dev/null would be a mount CRIU cannot place),
/// and no host descriptor survives the exec.
struct ContainerInitSetup {
    let config: ContainerConfig
    let rootfs: String
    /// The init is systemd (see SystemdGuest): it gets its cgroup hierarchy, a read-only
    /// /proc/sys, a console node and its runtime units.
    let systemd: Bool
    /// Where each of the config's `--share`s is mounted on the host, in order.
    let shareSources: [String]
    /// The init's stdin, and its stdout and stderr: the console pipes' ends (ConsolePipes).
    let stdio: (input: Int32, output: Int32)

    /// Device nodes every distro expects, made with mknod so they belong to the container.
    static let deviceNodes: [(name: String, major: UInt32, minor: UInt32, mode: mode_t)] = [
        ("null", 1, 3, 0o666), ("zero", 1, 5, 0o666), ("full", 1, 7, 0o666),
        ("random", 1, 8, 0o666), ("urandom", 1, 9, 0o666), ("tty", 5, 0, 0o666),
        // The automount daemon and systemd's .automount units talk to autofs through it.
        ("autofs", 10, 235, 0o600),
        // FUSE filesystems mounted inside (sshfs, a user's own); a `--userns` container
        // could not make the node itself.
        ("fuse", 10, 229, 0o666),
    ]

    /// systemd writes to /dev/console and needs it to be a node (a file bound there makes
    /// console-getty loop and breaks a restore); it is the container's null device until
    /// the monitor owns a console of its own.
    static let consoleNode: (name: String, major: UInt32, minor: UInt32, mode: mode_t) = ("console", 1, 3, 0o600)

    static let deviceLinks: [(name: String, target: String)] = [
        ("ptmx", "pts/ptmx"), ("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2"),
    ]

    static let environment = [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME=/root", "TERM=linux", "container=ferry",
    ]

    /// A `--userns` container's /dev, filled by the monitor on the host (UserNamespaceDevices);
    /// nil: a tmpfs made and filled here.
    var hostDevices: String? = nil

    /// Makes the nodes and links every distro expects in `directory` (an open /dev),
    /// owned by `owner` (a `--userns` container's root) or by whoever makes them.
    static func populateDevices(
        _ directory: OwnedFileDescriptor, console: Bool, optional: [OptionalDevice] = [], owner: UInt32? = nil
    ) throws(FerryError) {
        func own(_ name: String) throws(FerryError) {
            guard let owner else { return }
            try syscall("fchownat", path: "/dev/\(name)") { fchownat(directory.rawValue, name, owner, owner, AT_SYMLINK_NOFOLLOW) }
        }
        // The `--allow-device`s may sit in a directory (net/tun): made first, since the
        // rootfs's own /dev is hidden below this one.
        let extra = optional.map { (name: $0.path, major: $0.number.major, minor: $0.number.minor, mode: $0.mode) }
        for node in deviceNodes + (console ? [consoleNode] : []) + extra {
            var parent = ""
            for part in node.name.split(separator: "/").dropLast() {
                parent += parent.isEmpty ? String(part) : "/\(part)"
                let path = parent
                try syscall("mkdirat", path: "/dev/\(path)") { mkdirat(directory.rawValue, path, 0o755) == 0 || errno == EEXIST ? 0 : -1 }
                try own(path)
            }
            let device = DeviceNumber(major: node.major, minor: node.minor).rawValue
            try syscall("mknodat", path: "/dev/\(node.name)") { mknodat(directory.rawValue, node.name, S_IFCHR | node.mode, device) }
            try syscall("fchmodat", path: "/dev/\(node.name)") { fchmodat(directory.rawValue, node.name, node.mode, 0) }
            try own(node.name)
        }
        for link in deviceLinks {
            try syscall("symlinkat", path: "/dev/\(link.name)") { symlinkat(link.target, directory.rawValue, link.name) }
            try own(link.name)
        }
    }

    /// Runs every step; on success it never returns (the init is exec'd).
    func run() throws(FerryError) -> Never {
        // Born in its user namespace, the process is nobody until it takes the root the
        // monitor mapped (before "go"); everything below is done as that root.
        if config.userNamespace != nil { try UserNamespace.becomeRoot() }
        guard setsid() >= 0 else { throw FerryError.system("setsid", .init(rawValue: errno)) }
        // Nothing we mount from here on may propagate back to the host.
        try Mounts.mount(source: nil, target: "/", type: nil, flags: [.recursive, .private])
        try Mounts.mount(source: rootfs, target: rootfs, type: nil, flags: [.bind, .recursive])
        let tree = try ContainedPath(root: rootfs)
        try mountPseudoFilesystems(in: tree)
        let hardened = config.profile == .hardened
        if hardened { try hardenProc(in: tree) }
        if systemd {
            try mountSystemdFilesystems(in: tree, procSysAlreadyReadOnly: hardened)
            try SystemdGuest.prepare(in: tree)
        }
        try mountBinds(in: tree)
        try Namespaces.setHostname(config.hostname)
        try Namespaces.bringUp(interface: "lo")
        try Mounts.pivotRoot(to: rootfs)
        try redirectStandardStreams()
        // Every remaining descriptor (the error pipe included) closes at exec.
        try ProcessControl.closeOnExec(from: 3)
        try config.profile.confineBeforeExec(userNamespace: config.userNamespace != nil)
        let arguments = config.initArguments
        let error = ProcessControl.execute(arguments, environment: Self.environment + ["HOSTNAME=\(config.hostname)"])
        throw FerryError.system("execve", error, path: arguments[0],
            "cannot start init '\(arguments[0])' in container \(config.name): \(String(cString: strerror(error.rawValue)))")
    }

    private func mountPseudoFilesystems(in tree: ContainedPath) throws(FerryError) {
        let hardened: MountAttributes = [.noSetuid, .noDevices, .noExec]
        try attach(DetachedMount.filesystem("proc", source: "proc", attributes: hardened), at: "/proc", in: tree)
        // Read-only in its superblock too, for the hardened profile: the sysfs of the
        // container's network namespace is its own superblock, so a bind remount (or a
        // fresh mount, which finds the same superblock) stays read-only, and a superblock
        // remount is denied (SecurityProfile.deniedSyscalls).
        let sysfsOptions: [(String, String?)] = config.profile == .hardened ? [("ro", nil)] : []
        try attach(
            DetachedMount.filesystem("sysfs", source: "sysfs", options: sysfsOptions, attributes: hardened.union(.readOnly)),
            at: "/sys", in: tree)
        if let hostDevices {
            // Made by the monitor: no one can make a device node inside a user namespace.
            try attach(try DetachedMount.bind(hostDevices, recursive: false), at: UserNamespaceDevices.mountPoint, in: tree)
        } else {
            try attach(
                DetachedMount.filesystem("tmpfs", source: "tmpfs", options: [("mode", "755"), ("size", "65536k")], attributes: [.noSetuid]),
                at: "/dev", in: tree)
            let dev = try tree.openCreating("/dev", as: .directory)
            // O_PATH descriptors cannot be used for mknodat; reopen /dev for real.
            try Self.populateDevices(
                try OwnedFileDescriptor.open(dev.procPath, O_RDONLY | O_DIRECTORY), console: systemd, optional: config.optionalDevices)
        }
        try attach(
            DetachedMount.filesystem("devpts", source: "devpts", options: [("newinstance", nil), ("ptmxmode", "0666"), ("mode", "0620")],
                attributes: [.noSetuid, .noExec]),
            at: "/dev/pts", in: tree)
        try attach(
            DetachedMount.filesystem("tmpfs", source: "shm", options: [("mode", "1777")], attributes: hardened),
            at: "/dev/shm", in: tree)
        try attach(
            DetachedMount.filesystem("tmpfs", source: "tmpfs", options: [("mode", "755")], attributes: [.noSetuid, .noDevices]),
            at: "/run", in: tree)
    }

    /// What systemd needs besides the basics: /proc/sys read-only (else it writes host-wide
    /// sysctls), and the name=systemd hierarchy on a tmpfs at /sys/fs/cgroup (it mounts
    /// the controllers and cgroup2 itself, inside its cgroup namespace).
    private func mountSystemdFilesystems(in tree: ContainedPath, procSysAlreadyReadOnly: Bool) throws(FerryError) {
        // A privileged container's systemd still must not write host-wide sysctls.
        if !procSysAlreadyReadOnly { try makeReadOnly(try tree.open("/proc/sys"), describing: "/proc/sys") }
        try attach(
            DetachedMount.filesystem("tmpfs", source: "cgroup", options: [("mode", "755")], attributes: [.noSetuid, .noDevices, .noExec]),
            at: "/sys/fs/cgroup", in: tree)
        try attach(
            DetachedMount.filesystem("cgroup", source: "cgroup", options: [("none", nil), ("name", "systemd")], attributes: [.noSetuid, .noDevices, .noExec]),
            at: "/sys/fs/cgroup/systemd", in: tree)
    }

    /// The hardened profile's /proc (SecurityProfile): the host-wide entries read-only,
    /// the network sysctls (the container's own namespace's) writable, host internals
    /// masked by the container's /dev/null.
    private func hardenProc(in tree: ContainedPath) throws(FerryError) {
        // Each entry is looked up inside the root: a host-side test would follow a planted
        // /proc symlink out of the rootfs and silently skip the rule.
        // Cloned before /proc/sys turns read-only: a clone of that would be read-only too.
        var writable: [(String, DetachedMount)] = []
        for entry in SecurityProfile.writableProcSys {
            guard let source = try tree.openIfPresent("/proc/sys/\(entry)") else { continue }
            writable.append(("/proc/sys/\(entry)", try DetachedMount.bind(source.procPath, recursive: false)))
        }
        // The host-wide entries come from a second proc of the same pid namespace, read-only
        // in its superblock: a bind remount of /proc/sys read-write still writes nothing.
        // Its root stays mounted (read-only, harmless) because CRIU dumps a bind only
        // together with a mount of its superblock's root.
        let staging = SecurityProfile.readOnlyProcMountPoint
        try attach(
            DetachedMount.filesystem("proc", source: "proc", options: [("ro", nil)], attributes: [.noSetuid, .noDevices, .noExec, .readOnly]),
            at: staging, in: tree)
        for entry in SecurityProfile.readOnlyProc {
            guard let target = try tree.openIfPresent("/proc/\(entry)") else { continue }
            try makeReadOnly(try tree.open("\(staging)/\(entry)"), onto: target, describing: "/proc/\(entry)")
        }
        // By path again: /proc/sys is now the read-only bind, which net must go on top of.
        for (path, mount) in writable { try attach(mount, at: path, in: tree) }
        let null = try tree.open("/dev/null")
        for entry in SecurityProfile.maskedProc {
            guard let target = try tree.openIfPresent("/proc/\(entry)") else { continue }
            try DetachedMount.bind(null.procPath, recursive: false).attach(to: target, describing: "\(rootfs)/proc/\(entry)")
        }
    }

    /// Binds a /proc entry read-only onto itself, or onto `target`, through the descriptors
    /// it was looked up with inside the root (by host path, a rootfs whose /proc is a
    /// symlink would have a host path bound). `source` stays open until the bind is made.
    private func makeReadOnly(
        _ source: OwnedFileDescriptor, onto target: OwnedFileDescriptor? = nil, describing path: String
    ) throws(FerryError) {
        let mount = try DetachedMount.bind(source.procPath, recursive: false)
        try mount.set(.readOnly)
        try mount.attach(to: target ?? source, describing: "\(rootfs)\(path)")
    }

    private func mountBinds(in tree: ContainedPath) throws(FerryError) {
        for bind in config.binds {
            var info = Glibc.stat()
            guard stat(bind.source, &info) == 0 else {
                throw FerryError(.notFound, "bind source \(bind.source) of container \(config.name) does not exist on this host")
            }
            let kind: ContainedPath.Kind = (info.st_mode & S_IFMT) == S_IFDIR ? .directory : .file
            let mount = try DetachedMount.bind(bind.source, recursive: true)
            if bind.readOnly { try mount.set(.readOnly) }
            try attach(mount, at: bind.destination, kind: kind, in: tree)
        }
        // A share is a bind of the host's mount of it: the container never mounts the
        // network filesystem itself, so the host's network reaches its server.
        for (share, source) in zip(config.declaredShares, shareSources) {
            let mount = try DetachedMount.bind(source, recursive: false)
            try attach(mount, at: share.target, in: tree)
        }
    }

    private func attach(
        _ mount: DetachedMount, at path: String, kind: ContainedPath.Kind = .directory, in tree: ContainedPath
    ) throws(FerryError) {
        let target = try tree.openCreating(path, as: kind)
        try mount.attach(to: target, describing: "\(rootfs)\(path)")
    }

    /// stdin/stdout/stderr become the console pipes: pipes belong to no mount, so unlike
    /// an inherited host file they never tie the container to one CRIU cannot find.
    private func redirectStandardStreams() throws(FerryError) {
        for (source, target) in [(stdio.input, Int32(0)), (stdio.output, 1), (stdio.output, 2)] {
            try syscall("dup2") { dup2(source, target) }
        }
    }
}
