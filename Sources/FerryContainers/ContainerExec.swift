import FerryErrors
import FerrySystem
import Foundation
import Glibc

/// Runs a command inside a running container (`ferry exec`).
///
/// A forked helper joins the init's namespaces through its pidfd, then forks the command so
/// it is born inside the pid namespace. The command leads its own session there and joins
/// the container's cgroup; its stdio are pipes relayed by this process. Nothing of the
/// host — no descriptor, session or process group — stays with it, so a command left
/// running in the background never blocks a later checkpoint.
///
/// With `terminal`, the command gets a pseudo-terminal of the container's own devpts as
/// its controlling terminal instead of pipes (`ferry exec -t`): what systemctl's pager,
/// a shell's job control and line editing expect. The command leads the terminal's
/// session, so its shell can give the terminal to a job and take it back (^Z).
///
/// SIGTERM, SIGHUP or SIGINT to ferry end the command's whole session inside; SIGWINCH
/// resizes its terminal (`ExecSignals`).
public struct ContainerExec {
    public let runtime: ContainerRuntime
    public let arguments: [String]
    public var workingDirectory = "/"
    public var environment: [String] = []
    public var terminal = false

    /// root's login shell and home as the container's /etc/passwd names them (/bin/sh
    /// and / without one, or when the home is missing).
    public static func rootLogin(in rootfs: String) -> (shell: String, home: String) {
        let contained = try? ContainedPath(root: rootfs)
        // Looked up inside the root (a planted symlink must not name a host file), then
        // read through the descriptor.
        let file = (try? contained?.openIfPresent("/etc/passwd")) ?? nil
        let passwd = file.flatMap { try? readText("/proc/self/fd/\($0.rawValue)") } ?? ""
        for line in passwd.split(separator: "\n") {
            let fields = line.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard fields.count >= 7, fields[0] == "root" else { continue }
            let shell = fields[6].hasPrefix("/") ? fields[6] : "/bin/sh"
            let homeExists = fields[5].hasPrefix("/") && ((try? contained?.openIfPresent(fields[5])) ?? nil) != nil
            return (shell, homeExists ? fields[5] : "/")
        }
        return ("/bin/sh", "/")
    }

    public init(runtime: ContainerRuntime, arguments: [String]) {
        self.runtime = runtime
        self.arguments = arguments
    }

    /// Runs the command, relaying stdin/stdout/stderr, and returns its exit status.
    public func run(stdin: Int32 = 0, stdout: Int32 = 1, stderr: Int32 = 2) throws(FerryError) -> Int32 {
        guard !arguments.isEmpty else {
            throw FerryError(.invalidArgument, "no command given; write 'ferry exec NAME -- COMMAND…'")
        }
        let state = try runtime.loadState().requireRunning(runtime.config.name, "'ferry start' it first")
        let initProcess = try ProcessHandle(pid: state.initPid)
        let cgroupProcs = try OwnedFileDescriptor.open("\(state.cgroup)/cgroup.procs", O_WRONLY)
        let failure = try makePipe()
        let started = try makePipe()
        if terminal {
            let pty = try PseudoTerminal.open(inRootOf: state.initPid)
            let windowSource = isatty(stdin) == 1 ? stdin : stdout
            pty.copyWindowSize(from: windowSource)
            let signals = try ExecSignals(terminal: (pty, windowSource))
            let slave = pty.slave.rawValue
            let helper = try fork(
                initProcess, cgroupProcs, stdio: (slave, slave, slave), controllingTerminal: true, failure: failure,
                started: started, parentEnds: [pty.master])
            pty.slave.close()
            failure.write.close()
            signals.follow(commandSession(reportedOn: started))
            let raw = RawTerminalMode(stdin)
            let helperHandle = try ProcessHandle(pid: helper)
            TerminalRelay(terminal: pty, input: stdin, output: stdout, until: helperHandle, signals: signals).run()
            raw?.restore()
            signals.finish()
            return try finish(helper, failure: failure)
        }
        let signals = try ExecSignals(terminal: nil)
        let input = try makePipe()
        let output = try makePipe()
        let errors = try makePipe()
        let helper = try fork(
            initProcess, cgroupProcs, stdio: (input.read.rawValue, output.write.rawValue, errors.write.rawValue), controllingTerminal: false,
            failure: failure, started: started, parentEnds: [input.write, output.read, errors.read])
        input.read.close()
        output.write.close()
        errors.write.close()
        failure.write.close()
        signals.follow(commandSession(reportedOn: started))
        let helperHandle = try ProcessHandle(pid: helper)
        let relay = StreamRelay(
            input: (from: stdin, to: input.write), outputs: [(output.read, stdout), (errors.read, stderr)],
            until: helperHandle, signals: signals)
        relay.run()
        signals.finish()
        return try finish(helper, failure: failure)
    }

    /// The session the command leads, from the pid its helper reports once it has forked
    /// it; nil when the helper failed before. Read to end of file: the command's own copy
    /// of the pipe closes at its exec, after its setsid, so the session exists by then and
    /// a signal that comes next reaches it.
    private func commandSession(reportedOn started: (read: OwnedFileDescriptor, write: OwnedFileDescriptor)) -> ProcessSession? {
        started.write.close()
        guard let report = try? started.read.readAll(), let pid = pid_t(String(decoding: report, as: UTF8.self)) else {
            return nil
        }
        return ProcessSession(id: pid)
    }

    /// Forks the helper that enters the container; returns its pid. `parentEnds` are this
    /// side's ends of the stdio channels: the helper closes its copies at once, or the
    /// command would never see end of file on its stdin (`echo hi | ferry exec c -- cat`).
    private func fork(
        _ initProcess: ProcessHandle, _ cgroupProcs: OwnedFileDescriptor, stdio: (Int32, Int32, Int32), controllingTerminal: Bool,
        failure: (read: OwnedFileDescriptor, write: OwnedFileDescriptor),
        started: (read: OwnedFileDescriptor, write: OwnedFileDescriptor), parentEnds: [OwnedFileDescriptor]
    ) throws(FerryError) -> pid_t {
        let forked = ProcessControl.fork()
        if case .success(0) = forked {
            failure.read.close()
            started.read.close()
            for end in parentEnds { end.close() }
            let code = runHelper(
                initProcess: initProcess, cgroupProcs: cgroupProcs, stdio: stdio, controllingTerminal: controllingTerminal,
                failure: failure.write, started: started.write)
            _exit(code)
        }
        switch forked {
        case .success(let pid): return pid
        case .failure(let errno): throw FerryError.system("clone", errno)
        }
    }

    /// Reaps the helper: the command's exit status, or why it could not run.
    private func finish(_ helper: pid_t, failure: (read: OwnedFileDescriptor, write: OwnedFileDescriptor)) throws(FerryError) -> Int32 {
        let status = try Spawn.wait(helper)
        let report = String(decoding: (try? failure.read.readAll()) ?? [], as: UTF8.self)
        guard !report.isEmpty else { return status }
        // "errno:message" from a failed execve; a plain message from anything before it.
        let parts = report.split(separator: ":", maxSplits: 1)
        let execErrno = parts.count == 2 ? Int32(parts[0]) : nil
        let message = execErrno == nil ? report : String(parts[1])
        let code: FerryError.Code =
            switch execErrno {
            case ENOENT, ENOTDIR: .commandNotFound
            case EACCES, ENOEXEC, EISDIR, EPERM: .commandNotExecutable
            default: .commandFailed
            }
        throw FerryError(code, "cannot run '\(arguments[0])' in container \(runtime.config.name): \(message)")
    }

    /// In the forked helper: join the namespaces, fork the command, wait for it.
    private func runHelper(
        initProcess: ProcessHandle, cgroupProcs: OwnedFileDescriptor, stdio: (Int32, Int32, Int32), controllingTerminal: Bool,
        failure: OwnedFileDescriptor, started: OwnedFileDescriptor
    ) -> Int32 {
        do throws(FerryError) {
            // Ferry passes on the signals it gets (`ExecSignals`); a ^C from the admin's
            // terminal must not reach this helper too, which would pass it on twice.
            try ProcessControl.leaveProcessGroup()
            // Into the container's cgroups while their host paths are still in view, then
            // into its cgroup namespace too when it has one (systemd's), and into the time
            // namespace a restore gave it: a task outside it could not be dumped again
            // (CRIU: "Can't restore sub-task in NS").
            try runtime.cgroups.add(getpid())
            var namespaces: NamespaceSet = [.ipc, .uts, .network, .pid, .mount]
            for (name, namespace) in [("cgroup", NamespaceSet.cgroup), ("time", .time), ("user", .user)]
            where Namespaces.identity(pid: initProcess.pid, name) != Namespaces.identity(pid: getpid(), name) {
                namespaces.insert(namespace)
            }
            try Namespaces.enter(namespaces, of: initProcess.fd.rawValue)
            // In a `--userns` container, as its root: the range's first id, not the host's 0.
            if namespaces.contains(.user) { try UserNamespace.becomeRoot() }
            let forked = ProcessControl.fork()
            if case .success(0) = forked {
                do throws(FerryError) {
                    try exec(cgroupProcs: cgroupProcs, stdio: stdio, controllingTerminal: controllingTerminal)
                } catch {
                    let execErrno: String =
                        if case .errno(let errno, let call, _) = error.cause, call == "execve" { "\(errno.rawValue):" } else { "" }
                    try? failure.write(execErrno + error.message)
                }
                _exit(127)
            }
            switch forked {
            case .success(let child):
                try? started.write("\(child)")
                started.close()
                return try Spawn.wait(child)
            case .failure(let errno): throw FerryError.system("fork", errno)
            }
        } catch {
            try? failure.write(error.message)
            return 127
        }
    }

    /// In the command's process, inside the container's pid namespace.
    private func exec(cgroupProcs: OwnedFileDescriptor, stdio: (Int32, Int32, Int32), controllingTerminal: Bool) throws(FerryError) -> Never {
        guard setsid() >= 0 else { throw FerryError.system("setsid", .init(rawValue: errno)) }
        try cgroupProcs.write("0\n")
        cgroupProcs.close()
        let streams = [stdio.0, stdio.1, stdio.2]
        for (target, source) in streams.enumerated() {
            try syscall("dup2") { dup2(source, Int32(target)) }
        }
        if controllingTerminal { try PseudoTerminal.becomeControllingTerminal(0) }
        try ProcessControl.closeOnExec(from: 3)
        try syscall("chdir", path: workingDirectory) { chdir(workingDirectory) }
        var environment = ContainerInitSetup.environment + ["HOSTNAME=\(runtime.config.hostname)"]
        if controllingTerminal { environment.append("TERM=\(ProcessInfo.processInfo.environment["TERM"] ?? "xterm")") }
        environment += self.environment
        try runtime.config.profile.confineBeforeExec(userNamespace: runtime.config.userNamespace != nil)
        let error = ProcessControl.execute(arguments, environment: environment)
        throw FerryError.system("execve", error, path: arguments[0], "\(arguments[0]): \(String(cString: strerror(error.rawValue)))")
    }
}

/// Copies data between descriptors with poll(2) until a process exits, then drains what is
/// already buffered. It does not wait for end of file: a background process inside the
/// container may keep the pipes open for as long as it lives. The signals ferry receives
/// meanwhile are acted on between polls (`ExecSignals`).
struct StreamRelay {
    let input: (from: Int32, to: OwnedFileDescriptor)
    let outputs: [(OwnedFileDescriptor, Int32)]
    let until: ProcessHandle
    let signals: ExecSignals

    func run() {
        var inputOpen = true
        var buffer = [UInt8](repeating: 0, count: 65536)
        for (fd, _) in outputs { DescriptorIO.setNonBlocking(fd.rawValue) }
        var exited = false
        while !exited {
            var polls = outputs.map { pollfd(fd: $0.0.rawValue, events: Int16(POLLIN), revents: 0) }
            polls.append(pollfd(fd: until.fd.rawValue, events: Int16(POLLIN), revents: 0))
            polls.append(pollfd(fd: inputOpen ? input.from : -1, events: Int16(POLLIN), revents: 0))
            polls.append(signals.pollEntry)
            guard case .success = DescriptorIO.poll(&polls, timeout: signals.pollTimeout) else { break }
            signals.service()
            for (index, (fd, destination)) in outputs.enumerated() where polls[index].revents != 0 {
                copy(from: fd.rawValue, to: destination, buffer: &buffer)
            }
            exited = polls[outputs.count].revents != 0
            if inputOpen, polls[outputs.count + 1].revents != 0 {
                if case .success(let count) = DescriptorIO.read(input.from, into: &buffer), count > 0 {
                    _ = DescriptorIO.writeAll(input.to.rawValue, buffer[0..<count])
                } else {
                    inputOpen = false
                    input.to.close()
                }
            }
        }
        for (fd, destination) in outputs { copy(from: fd.rawValue, to: destination, buffer: &buffer) }
    }

    /// Copies what is readable now (the source is non-blocking).
    private func copy(from source: Int32, to destination: Int32, buffer: inout [UInt8]) {
        while case .success(let count) = DescriptorIO.read(source, into: &buffer), count > 0 {
            guard case .success = DescriptorIO.writeAll(destination, buffer[0..<count]) else { return }
        }
    }
}

/// Relays between the admin's stdin/stdout and a pty master until the helper exits, then
/// drains what the terminal still holds. End of input becomes the terminal's end-of-file
/// character (^D, `TerminalEndOfInput`), not a hang-up, so `echo cmd | ferry exec -t` runs
/// `cmd` to the end.
struct TerminalRelay {
    let terminal: PseudoTerminal
    let input: Int32
    let output: Int32
    let until: ProcessHandle
    let signals: ExecSignals

    func run() {
        let master = terminal.master
        var inputOpen = true
        var endOfInput: TerminalEndOfInput?
        var masterOpen = true
        var buffer = [UInt8](repeating: 0, count: 65536)
        var exited = false
        while !exited && masterOpen {
            var polls = [
                pollfd(fd: master.rawValue, events: Int16(POLLIN), revents: 0),
                pollfd(fd: until.fd.rawValue, events: Int16(POLLIN), revents: 0),
                pollfd(fd: inputOpen ? input : -1, events: Int16(POLLIN), revents: 0),
                signals.pollEntry,
            ]
            let timeout = [signals.pollTimeout, endOfInput?.pending == true ? TerminalEndOfInput.interval : nil].compactMap { $0 }.min()
            guard case .success = DescriptorIO.poll(&polls, timeout: timeout) else { break }
            signals.service()
            if polls[0].revents & Int16(POLLIN) != 0 {
                // EIO once every slave is closed: the terminal has nothing more to say.
                if case .success(let count) = DescriptorIO.read(master.rawValue, into: &buffer), count > 0 {
                    _ = DescriptorIO.writeAll(output, buffer[0..<count])
                } else {
                    masterOpen = false
                }
            } else if polls[0].revents & Int16(POLLHUP | POLLERR) != 0 {
                masterOpen = false
            }
            exited = polls[1].revents != 0
            if inputOpen, polls[2].revents != 0 {
                if case .success(let count) = DescriptorIO.read(input, into: &buffer), count > 0 {
                    _ = DescriptorIO.writeAll(master.rawValue, buffer[0..<count])
                } else {
                    inputOpen = false
                    endOfInput = TerminalEndOfInput()
                }
            }
            endOfInput?.deliver(to: terminal)
        }
        DescriptorIO.setNonBlocking(master.rawValue)
        while case .success(let count) = DescriptorIO.read(master.rawValue, into: &buffer), count > 0 {
            _ = DescriptorIO.writeAll(output, buffer[0..<count])
        }
    }
}
