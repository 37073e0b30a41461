import FerryErrors
import FerrySystem
import Foundation
import Glibc
import Logging

/// Something that answers agent requests: the ssh channel, or a test double.
protocol AgentCalling: AnyObject {
    /// Sends one request and waits for its response, at most the operation's deadline; a
    /// failed response becomes an error.
    func call(_ operation: AgentRequest.Operation, within seconds: Double?) throws(FerryError) -> AgentResponse
    /// True once a call found the channel dead or timed out: a late answer could be taken
    /// for the next call's, so the channel is never used again. (An ssh that died between
    /// calls is found by the next call, which fails: a migration never carries on with a
    /// fresh agent that does not know what the dead one did.)
    var isBroken: Bool { get }
}

/// The source's side of the agent protocol: `ssh HOST ferry agent`, one request and one
/// response per line. The agent's stderr (its warnings, ssh's own complaints) is drained
/// into the source's log as it comes, so a chatty target can never block on a full pipe,
/// and its last words explain a broken channel.
extension AgentCalling {
    /// A call bounded by the operation's own deadline.
    func call(_ operation: AgentRequest.Operation) throws(FerryError) -> AgentResponse {
        try call(operation, within: nil)
    }
}

final class AgentChannel: AgentCalling {
    private let process: pid_t
    private let input: OwnedFileDescriptor
    private let output: OwnedFileDescriptor
    private let lines: LineReader
    private let stderr: StderrDrain
    let target: SSHTarget
    private(set) var isBroken = false

    init(target: SSHTarget, remoteFerry: String, logger: Logger) throws(FerryError) {
        self.target = target
        let stdinPipe = try makePipe()
        let stdoutPipe = try makePipe()
        let stderrPipe = try makePipe()
        process = try Spawn.start(
            Spawn.diesWithParent(target.sshCommand + [target.destination, remoteFerry, "agent"]), environment: Spawn.defaultEnvironment,
            stdin: stdinPipe.read.rawValue, stdout: stdoutPipe.write.rawValue, stderr: stderrPipe.write.rawValue,
            onInterrupt: .endsOnInterrupt)
        stdinPipe.read.close()
        stdoutPipe.write.close()
        stderrPipe.write.close()
        input = stdinPipe.write
        output = stdoutPipe.read
        lines = LineReader(fd: output.rawValue)
        var agentLogger = logger
        agentLogger[metadataKey: "target"] = "\(target.destination)"
        stderr = StderrDrain(fd: stderrPipe.read, logger: agentLogger)
    }

    deinit {
        input.close()
        _ = kill(process, SIGTERM)
        _ = try? Spawn.wait(process)
    }

    func call(_ operation: AgentRequest.Operation, within seconds: Double?) throws(FerryError) -> AgentResponse {
        let deadline = min(operation.deadline, seconds ?? operation.deadline)
        guard !isBroken else { throw FerryError(.commandFailed, "the channel to \(target.destination) broke earlier") }
        let data = try AgentProtocol.line(AgentRequest(operation))
        do throws(FerryError) {
            try input.write(data)
        } catch {
            isBroken = true
            throw unreachable()
        }
        let line: String
        switch lines.next(within: deadline) {
        case .success(let text): line = text
        case .failure(.closed):
            isBroken = true
            throw unreachable()
        case .failure(.timedOut):
            isBroken = true
            throw FerryError(
                .timedOut,
                "target \(target.destination) did not answer '\(operation.name)' within \(String(format: "%.1f", deadline)) s; taking it as gone")
        }
        let response: AgentResponse
        do {
            response = try JSONDecoder().decode(AgentResponse.self, from: Data(line.utf8))
        } catch {
            throw FerryError(.corrupt, "target \(target.destination) answered something that is not Ferry's agent protocol: \(line.prefix(200))")
        }
        guard response.ok else {
            throw (response.failure ?? .init(FerryError(.commandFailed, "unknown error"))).error(on: target.destination)
        }
        return response
    }

    /// What ssh or the agent said last when the channel broke (host unreachable, host key
    /// mismatch, the agent crashed, …).
    private func unreachable() -> FerryError {
        let reason = stderr.lastLine(waitingForEndUpTo: 5) ?? "the connection closed"
        return FerryError(.commandFailed, "cannot talk to ferry agent on \(target.destination): \(reason)")
    }
}

/// Reads a child's stderr on a thread of its own until end of file, logging each line and
/// keeping the last few.
final class StderrDrain: @unchecked Sendable {
    private let lock = NSCondition()
    private var recent: [String] = []
    private var ended = false

    init(fd: OwnedFileDescriptor, logger: Logger) {
        let raw = fd.rawValue
        Thread.detachNewThread { [self] in
            let reader = LineReader(fd: raw)
            while let line = reader.next() {
                logger.info("\(line)")
                lock.lock()
                recent.append(line)
                if recent.count > 20 { recent.removeFirst() }
                lock.unlock()
            }
            withExtendedLifetime(fd) {}
            lock.lock()
            ended = true
            lock.broadcast()
            lock.unlock()
        }
    }

    /// The last non-empty line, after waiting (bounded) for the writer to close its end:
    /// a dying ssh writes its reason just before it exits.
    func lastLine(waitingForEndUpTo seconds: Double) -> String? {
        lock.lock()
        defer { lock.unlock() }
        let deadline = Date(timeIntervalSinceNow: seconds)
        while !ended, lock.wait(until: deadline) {}
        return recent.last { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
    }
}
