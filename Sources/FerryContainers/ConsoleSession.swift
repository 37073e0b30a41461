import FerryErrors
import FerrySystem
import Glibc

/// `ferry console`: the admin's terminal attached to the init's console through its
/// monitor (see ConsoleRelay) until the detach keys, Ctrl-a q, as with `screen` and
/// `lxc console`. The container runs on after a detach.
public struct ConsoleSession {
    public let runtime: ContainerRuntime

    /// Ctrl-a, then q.
    public static let escape: UInt8 = 0x01
    public static let detach = UInt8(ascii: "q")

    public init(runtime: ContainerRuntime) {
        self.runtime = runtime
    }

    /// How a session ended.
    public enum End: Sendable, Equatable {
        case detached
        /// The monitor closed the console: the container stopped (or was checkpointed).
        case containerGone
    }

    /// Relays between the admin's terminal (raw while attached) and the monitor's console
    /// socket until the detach keys, the admin's end of input, or the console's end.
    public func run(input: Int32 = STDIN_FILENO, output: Int32 = STDOUT_FILENO) throws(FerryError) -> End {
        _ = try runtime.loadState().requireRunning(runtime.config.name, "'ferry start' it first, or read its output with 'ferry logs'")
        let socket: OwnedFileDescriptor
        do throws(FerryError) {
            socket = try UnixSocket.connect(to: runtime.layout.consoleSocket)
        } catch {
            throw FerryError(
                .notFound,
                "container \(runtime.config.name) has no console (its monitor started before Ferry kept one); restart it to get one",
                cause: .error(error))
        }
        let raw = RawTerminalMode(input)
        defer { raw?.restore() }
        var keys = DetachKeys()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            var entries = [pollfd(fd: socket.rawValue, events: Int16(POLLIN), revents: 0), pollfd(fd: input, events: Int16(POLLIN), revents: 0)]
            guard case .success = DescriptorIO.poll(&entries) else { return .containerGone }
            if entries[0].revents != 0 {
                guard case .success(let count) = DescriptorIO.read(socket.rawValue, into: &buffer), count > 0 else { return .containerGone }
                _ = DescriptorIO.writeAll(output, buffer[..<count])
            }
            if entries[1].revents != 0 {
                // The admin's end of file (a pipe, not a terminal) ends the session too.
                guard case .success(let count) = DescriptorIO.read(input, into: &buffer), count > 0 else { return .detached }
                let (forward, detached) = keys.filter(buffer[..<count])
                if !forward.isEmpty, case .failure = DescriptorIO.writeAll(socket.rawValue, forward[...]) { return .containerGone }
                if detached { return .detached }
            }
        }
    }
}

/// Finds Ctrl-a q in what the admin types, across reads; everything else goes on (a
/// Ctrl-a not followed by q goes on with what follows it).
public struct DetachKeys: Sendable {
    private var pendingEscape = false

    public init() {}

    /// What to send on, and whether the detach keys came (what follows them is dropped).
    public mutating func filter(_ bytes: ArraySlice<UInt8>) -> (forward: [UInt8], detached: Bool) {
        var forward: [UInt8] = []
        for byte in bytes {
            if pendingEscape {
                pendingEscape = false
                if byte == ConsoleSession.detach { return (forward, true) }
                forward.append(ConsoleSession.escape)
            }
            if byte == ConsoleSession.escape {
                pendingEscape = true
            } else {
                forward.append(byte)
            }
        }
        return (forward, false)
    }
}
