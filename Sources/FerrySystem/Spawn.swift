internal import CLinux
import FerryErrors
import Glibc
import SystemPackage

/// Runs helper programs (mkfs, tar, cp, hooks, criu check) without a shell.
///
/// posix_spawn with every descriptor above 2 closed: a helper must never inherit a
/// container's descriptor or a lock. No threads are started, so this is safe to call from
/// Ferry's single-threaded container monitor too.
public enum Spawn {
    public struct Output: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// Runs `argv` so that it is killed (SIGKILL) when the thread that started it dies: an
    /// ssh, rsync or CRIU of a ferry that was killed -9 must not run on as an orphan.
    /// posix_spawn cannot set PR_SET_PDEATHSIG, so util-linux's setpriv does it just before
    /// the exec.
    public static func diesWithParent(_ argv: [String]) -> [String] {
        ["setpriv", "--pdeathsig", "KILL", "--"] + argv
    }

    /// What a helper does when ferry is interrupted (see `Interruption`).
    public enum OnInterrupt: Sendable {
        /// In ferry's process group: a Ctrl-C at the terminal reaches it as it reaches ferry.
        case sharesFerrysSignals
        /// In its own process group, out of the terminal's reach: it runs to its end, and
        /// ferry decides what follows (CRIU: a dump killed half-way leaves a frozen tree).
        case runsToItsEnd
        /// In its own process group, sent SIGTERM (with its children) when ferry is
        /// interrupted while it may still cancel: a transfer the rollback undoes anyway.
        case endsOnInterrupt
    }

    /// Starts `argv` and returns its pid. stdio are the given descriptors, or /dev/null.
    public static func start(
        _ argv: [String], environment: [String]? = nil,
        stdin: Int32? = nil, stdout: Int32? = nil, stderr: Int32? = nil,
        extraDescriptors: [Int32] = [], newSession: Bool = false, onInterrupt: OnInterrupt = .sharesFerrysSignals
    ) throws(FerryError) -> pid_t {
        guard let program = argv.first else {
            throw FerryError(.invalidArgument, "no program to run")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (target, source) in [(Int32(0), stdin), (1, stdout), (2, stderr)] {
            if let source {
                posix_spawn_file_actions_adddup2(&actions, source, target)
            } else {
                posix_spawn_file_actions_addopen(
                    &actions, target, "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0)
            }
        }
        // Extra descriptors land at 3, 4, … in the child; everything above them is closed.
        for (offset, source) in extraDescriptors.enumerated() {
            posix_spawn_file_actions_adddup2(&actions, source, 3 + Int32(offset))
        }
        _ = fy_spawn_actions_closefrom(&actions, 3 + Int32(extraDescriptors.count))
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var flags = Int32(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        if newSession { flags |= Int32(FY_POSIX_SPAWN_SETSID) }
        if !newSession, onInterrupt != .sharesFerrysSignals {
            flags |= Int32(FY_POSIX_SPAWN_SETPGROUP)
            posix_spawnattr_setpgroup(&attributes, 0)
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigfillset(&defaults)
        posix_spawnattr_setsigdefault(&attributes, &defaults)

        let env = environment ?? defaultEnvironment
        var pid: pid_t = 0
        let result = withCStrings(argv) { argvPointers in
            withCStrings(env) { envPointers in
                if program.contains("/") {
                    return posix_spawn(&pid, program, &actions, &attributes, argvPointers, envPointers)
                }
                return posix_spawnp(&pid, program, &actions, &attributes, argvPointers, envPointers)
            }
        }
        guard result == 0 else {
            throw FerryError(
                .commandFailed, "cannot run \(program): \(String(cString: strerror(result)))",
                cause: .errno(.init(rawValue: result), call: "posix_spawn", path: program))
        }
        if onInterrupt == .endsOnInterrupt { Interruption.register(group: pid) }
        return pid
    }

    /// Runs `argv` to completion and captures its output.
    /// `onOutput` sees stdout as it arrives (for progress displays).
    public static func run(
        _ argv: [String], environment: [String]? = nil, input: String? = nil, onInterrupt: OnInterrupt = .sharesFerrysSignals,
        onOutput: ((String) -> Void)? = nil
    ) throws(FerryError) -> Output {
        let helper = try AwaitingInput(argv, environment: environment, takesInput: input != nil, onInterrupt: onInterrupt)
        return try helper.finish(input: Array((input ?? "").utf8), onOutput: onOutput)
    }

    /// Runs `argv` and throws, quoting its output, unless it exits 0.
    @discardableResult
    public static func check(
        _ argv: [String], environment: [String]? = nil, input: String? = nil,
        _ what: @autoclosure () -> String
    ) throws(FerryError) -> Output {
        let output = try run(argv, environment: environment, input: input)
        guard output.status == 0 else {
            throw FerryError(
                .commandFailed, "\(what()): \(argv.first ?? "") exited with status \(output.status)",
                cause: .output(
                    command: argv.joined(separator: " "), status: output.status,
                    text: output.stderr.isEmpty ? output.stdout : output.stderr))
        }
        return output
    }

    /// Waits for a child and returns its exit status (128+N when killed by signal N).
    public static func wait(_ pid: pid_t) throws(FerryError) -> Int32 {
        var status: Int32 = 0
        try syscall("waitpid") { waitpid(pid, &status, 0) }
        Interruption.unregister(group: pid)
        return decode(status)
    }

    /// Waits for any child (orphans that came to a subreaper included) and returns its pid
    /// and raw wait status; fails with `.noChildProcess` once none is left.
    /// The corresponding C function is `waitpid` (pid -1).
    public static func reapAny() -> Result<(pid: pid_t, status: Int32), Errno> {
        var status: Int32 = 0
        return valueOrErrno { waitpid(-1, &status, 0) }.map { ($0, status) }
    }

    /// Reaps one exited child, any, without waiting; nil when none has exited.
    /// The corresponding C function is `waitpid` (pid -1, WNOHANG).
    public static func reapAnyExited() -> (pid: pid_t, status: Int32)? {
        var status: Int32 = 0
        guard case .success(let reaped) = valueOrErrno({ waitpid(-1, &status, WNOHANG) }), reaped > 0 else { return nil }
        return (reaped, status)
    }

    /// Reaps `pid` if it has exited, without waiting, and returns its exit status (as
    /// `wait` does); nil while it runs or when it is not a child of this process.
    /// The corresponding C function is `waitpid` (WNOHANG).
    public static func reapIfExited(_ pid: pid_t) -> Int32? {
        var status: Int32 = 0
        guard case .success(let reaped) = valueOrErrno({ waitpid(pid, &status, WNOHANG) }), reaped == pid else { return nil }
        Interruption.unregister(group: pid)
        return decode(status)
    }

    /// Turns a wait status into a shell-style exit code.
    public static func decode(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        if signal == 0 { return (status >> 8) & 0xff }
        return 128 + signal
    }

    /// The environment helpers get: a fixed PATH, nothing inherited that could surprise.
    public static let defaultEnvironment = [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C",
    ]

    static func drain(
        _ first: OwnedFileDescriptor, _ second: OwnedFileDescriptor, onFirst: ((String) -> Void)?
    ) throws(FerryError) -> ([UInt8], [UInt8]) {
        var results: [[UInt8]] = [[], []]
        var open = [true, true]
        let fds = [first.rawValue, second.rawValue]
        var buffer = [UInt8](repeating: 0, count: 65536)
        while open.contains(true) {
            var polls = fds.enumerated().map { index, fd in
                pollfd(fd: open[index] ? fd : -1, events: Int16(POLLIN), revents: 0)
            }
            if case .failure(let errno) = DescriptorIO.poll(&polls) { throw FerryError.system("poll", errno) }
            for index in 0..<2 where open[index] && polls[index].revents != 0 {
                switch DescriptorIO.read(fds[index], into: &buffer) {
                case .success(0):
                    open[index] = false
                case .success(let count):
                    results[index].append(contentsOf: buffer[0..<count])
                    if index == 0, let onFirst { onFirst(String(decoding: buffer[0..<count], as: UTF8.self)) }
                case .failure(.resourceTemporarilyUnavailable):
                    break
                case .failure:
                    open[index] = false
                }
            }
        }
        return (results[0], results[1])
    }
}

/// Calls `body` with a NULL-terminated C array of the strings.
func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { pointers.forEach { free($0) } }
    return body(pointers)
}
