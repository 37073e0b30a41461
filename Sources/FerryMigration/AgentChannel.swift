import FerryErrors
import FerrySystem
import Foundation
import Glibc

/// The source's side of the agent protocol: `ssh HOST ferry agent`, one request and one
/// response per line.
public final class AgentChannel {
    private let process: pid_t
    private let input: OwnedFileDescriptor
    private let output: OwnedFileDescriptor
    private let errors: OwnedFileDescriptor
    private let lines: LineReader
    public let target: SSHTarget

    public init(target: SSHTarget, remoteFerry: String) throws(FerryError) {
        self.target = target
        let stdinPipe = try makePipe()
        let stdoutPipe = try makePipe()
        let stderrPipe = try makePipe()
        process = try Spawn.start(
            target.sshCommand + [target.destination, remoteFerry, "agent"], environment: Spawn.defaultEnvironment,
            stdin: stdinPipe.read.rawValue, stdout: stdoutPipe.write.rawValue, stderr: stderrPipe.write.rawValue)
        stdinPipe.read.close()
        stdoutPipe.write.close()
        stderrPipe.write.close()
        input = stdinPipe.write
        output = stdoutPipe.read
        errors = stderrPipe.read
        lines = LineReader(fd: output.rawValue)
    }

    deinit {
        input.close()
        _ = kill(process, SIGTERM)
        _ = try? Spawn.wait(process)
    }

    /// Sends one request and waits for its response; a failed response becomes an error.
    public func call(_ operation: AgentRequest.Operation) throws(FerryError) -> AgentResponse {
        let data: Data
        do {
            data = try JSONEncoder().encode(AgentRequest(operation))
        } catch {
            throw FerryError(.invalidArgument, "cannot encode an agent request", cause: .error(error))
        }
        do throws(FerryError) {
            try input.write(String(decoding: data, as: UTF8.self) + "\n")
        } catch {
            throw unreachable()
        }
        guard let line = lines.next() else { throw unreachable() }
        let response: AgentResponse
        do {
            response = try JSONDecoder().decode(AgentResponse.self, from: Data(line.utf8))
        } catch {
            throw FerryError(.corrupt, "target \(target.destination) answered something that is not Ferry's agent protocol: \(line.prefix(200))")
        }
        guard response.ok else {
            throw FerryError(
                FerryError.Code(rawValue: response.code ?? "commandFailed"),
                "target \(target.destination): \(response.error ?? "unknown error")")
        }
        return response
    }

    /// What ssh said when the channel broke (host unreachable, host key mismatch, …).
    private func unreachable() -> FerryError {
        DescriptorIO.setNonBlocking(errors.rawValue)
        var bytes = [UInt8](repeating: 0, count: 8192)
        let count = (try? DescriptorIO.read(errors.rawValue, into: &bytes).get()) ?? 0
        let text = String(decoding: bytes[0..<count], as: UTF8.self)
        let reason = text.split(separator: "\n").last.map(String.init) ?? "the connection closed"
        return FerryError(.commandFailed, "cannot talk to ferry agent on \(target.destination): \(reason)")
    }
}
