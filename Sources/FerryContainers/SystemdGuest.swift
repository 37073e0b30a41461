import FerryErrors
import FerrySystem
import Glibc

/// What a systemd init needs in a Ferry container, given without editing the guest's disk:
/// runtime units and drop-ins in /run/systemd/system (which override /etc and /lib) and a
/// D-Bus configuration in /run/ferry, written into the container's fresh /run before the
/// init starts. Each entry says why (../shared/CRIU-FACTS.md, "systemd as the container's
/// init").
enum SystemdGuest {
    /// Units systemd must not start in a container, with the reason.
    static let masked: [(unit: String, why: String)] = [
        ("sys-kernel-debug.mount", "debugfs is the host's"),
        ("sys-kernel-tracing.mount", "tracefs is the host's"),
        ("sys-kernel-config.mount", "configfs is the host's"),
        ("sys-fs-fuse-connections.mount", "fusectl is host-wide"),
        ("dev-hugepages.mount", "hugetlbfs is the host's memory"),
        ("console-getty.service", "/dev/console is no terminal here; 'ferry exec NAME -- bash' is the way in"),
    ]

    /// Units that need a filesystem the host's kernel may lack, masked only then.
    static let needingFilesystem: [(unit: String, filesystem: String)] = [
        ("autofs.service", "autofs"), ("proc-sys-fs-binfmt_misc.automount", "autofs"),
    ]

    /// The masks for this host: the fixed ones, and those whose filesystem the kernel has not.
    static func masks(kernelFilesystems: Set<String>) -> [(unit: String, why: String)] {
        masked + needingFilesystem.filter { !kernelFilesystems.contains($0.filesystem) }.map {
            ($0.unit, "this host's kernel has no \($0.filesystem)")
        }
    }

    /// The filesystem types this kernel knows (/proc/filesystems).
    static func kernelFilesystems() -> Set<String> {
        let text = (try? readText("/proc/filesystems")) ?? ""
        return Set(text.split(separator: "\n").compactMap { $0.split(whereSeparator: { $0 == "\t" || $0 == " " }).last.map(String.init) })
    }

    /// Drop-ins: path below /run/systemd/system and contents.
    static let dropIns: [(path: String, contents: String)] = [
        // A nested uts namespace cannot be dumped by CRIU; cgroup BPF programs (IP access
        // lists) leave bpf-prog descriptors CRIU cannot dump, released only by a new boot.
        ("service.d/ferry.conf", "[Service]\nProtectHostname=no\nIPAddressDeny=\nIPAddressAllow=\n"),
        // CRIU on this host cannot read the rlimits of a task with another uid (no
        // CAP_SYS_RESOURCE): the bus runs as root.
        (
            "dbus.service.d/ferry.conf",
            "[Service]\nExecStart=\nExecStart=/usr/bin/dbus-daemon --config-file=/run/ferry/dbus-system.conf --address=systemd: --nofork --nopidfile --systemd-activation --syslog-only\n"
        ),
    ]

    /// Other runtime files: path below /run and contents.
    static let files: [(path: String, contents: String)] = [
        (
            "ferry/dbus-system.conf",
            """
            <!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
             "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
            <!-- Written by Ferry: the system bus as the guest configures it, run as root. -->
            <busconfig>
              <include>/usr/share/dbus-1/system.conf</include>
              <user>root</user>
            </busconfig>

            """
        )
    ]

    /// Whether the init program resolves (inside the rootfs, symlinks followed there) to
    /// systemd.
    static func isSystemd(initPath: String, rootfs: String) -> Bool {
        RootedLookup.hostPath(of: initPath, inRoot: rootfs)?.hasSuffix("/systemd") ?? false
    }

    /// Writes the masks, drop-ins and files into the container's /run.
    static func prepare(in tree: ContainedPath) throws(FerryError) {
        let units = try directory("/run/systemd/system", in: tree)
        for entry in masks(kernelFilesystems: kernelFilesystems()) {
            try syscall("symlinkat", path: "/run/systemd/system/\(entry.unit)") { symlinkat("/dev/null", units.rawValue, entry.unit) }
        }
        for entry in dropIns {
            try write(entry.contents, to: "/run/systemd/system/\(entry.path)", in: tree)
        }
        for entry in files {
            try write(entry.contents, to: "/run/\(entry.path)", in: tree)
        }
    }

    private static func directory(_ path: String, in tree: ContainedPath) throws(FerryError) -> OwnedFileDescriptor {
        let handle = try tree.openCreating(path, as: .directory)
        return try OwnedFileDescriptor.open(handle.procPath, O_RDONLY | O_DIRECTORY)
    }

    private static func write(_ contents: String, to path: String, in tree: ContainedPath) throws(FerryError) {
        let slash = path.lastIndex(of: "/") ?? path.startIndex
        let parent = try directory(String(path[..<slash]), in: tree)
        let name = String(path[path.index(after: slash)...])
        let fd = try syscall("openat", path: path) { openat(parent.rawValue, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644) }
        let file = OwnedFileDescriptor(taking: fd)
        try file.write(contents)
    }
}
