internal import CLinux
import FerryErrors
import Glibc
import SystemPackage

/// What a process does to itself between fork and exec: a container's init while it
/// builds the container, `ferry exec`'s helper and command, the monitor before it clones.
public enum ProcessControl {
    /// Forks the caller, the child born in new `namespaces` (none: a plain fork). As with
    /// fork(2), the child sees 0 and the parent the child's pid. The caller must be
    /// single-threaded, since the child runs Swift code before it execs.
    /// The corresponding C function is `clone` (raw, with no new stack and SIGCHLD).
    public static func fork(into namespaces: NamespaceSet = []) -> Result<pid_t, Errno> {
        valueOrErrno { fy_clone_fork(namespaces.rawValue) }
    }

    /// Replaces the process with `arguments[0]` (looked up in PATH when it has no slash),
    /// with exactly `environment`. Returns only when that failed, with the reason.
    /// The corresponding C function is `execvpe`.
    public static func execute(_ arguments: [String], environment: [String]) -> Errno {
        guard let program = arguments.first else { return .invalidArgument }
        // Ferry ignores SIGPIPE (a broken pipe is an error it reports); what it runs in a
        // container must get the default back, or `yes | head` would spin for ever.
        resetBrokenPipeSignal()
        return withCStrings(arguments) { argv in
            withCStrings(environment) { envp in
                _ = fy_execvpe(program, argv, envp)
                return Errno(rawValue: errno)
            }
        }
    }

    /// Ferry's own disposition: a write to a pipe or socket whose reader is gone (the
    /// agent's ssh after a cut link) fails with EPIPE and reaches the error path, instead
    /// of killing ferry silently with exit status 141. Children get the default again
    /// (Spawn resets every signal; `execute` resets this one).
    public static func ignoreBrokenPipes() {
        signal(SIGPIPE, SIG_IGN)
    }

    static func resetBrokenPipeSignal() {
        signal(SIGPIPE, SIG_DFL)
    }

    /// Marks every descriptor from `first` up close-on-exec, so that nothing of the host
    /// survives the exec that follows. The corresponding C function is `close_range`
    /// (CLOSE_RANGE_CLOEXEC).
    public static func closeOnExec(from first: UInt32) throws(FerryError) {
        try syscall("close_range") { fy_close_range(first, UInt32.max, 4 /* CLOSE_RANGE_CLOEXEC */) }
    }

    /// Puts the caller in a process group of its own: out of reach of the signals a
    /// terminal sends its foreground group (^C), which its parent handles for it.
    /// The corresponding C function is `setpgid`.
    public static func leaveProcessGroup() throws(FerryError) {
        try syscall("setpgid") { setpgid(0, 0) }
    }

    /// Makes the caller the reaper of its orphaned descendants, as a container monitor must
    /// be for a tree CRIU restores under it. The corresponding C function is `prctl`
    /// (PR_SET_CHILD_SUBREAPER).
    public static func becomeChildSubreaper() throws(FerryError) {
        try syscall("prctl(PR_SET_CHILD_SUBREAPER)") { fy_set_child_subreaper() }
    }

    /// Removes capabilities from the caller's bounding set, for good: no later exec (not
    /// even of a setuid-root file) can bring them back. The corresponding C function is
    /// `prctl` (PR_CAPBSET_DROP).
    public static func dropFromBoundingSet(_ capabilities: [Int32]) throws(FerryError) {
        for capability in capabilities {
            try syscall("prctl(PR_CAPBSET_DROP, \(capability))") { fy_capbset_drop(capability) }
        }
    }
}

/// Signal numbers Glibc's Swift module does not name.
public enum Signal {
    /// The first real-time signal programs may use (glibc keeps the two below it for its
    /// threads). The corresponding C macro is `SIGRTMIN`.
    public static var realtimeMinimum: Int32 { FY_SIGRTMIN }
}
