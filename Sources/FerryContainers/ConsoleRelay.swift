import FerryErrors
import FerrySystem
import Foundation
import Glibc

/// The monitor's side of the init's console, on a thread of its own (the monitor's main
/// thread waits for the init): reads the output pipe into the console log and to every
/// attached `ferry console`, and passes what consoles type to the init's stdin.
///
/// It ends when the output pipe reaches end of file, i.e. when the init and every task
/// holding its stdout are gone; `finish` waits for that, so the log holds the init's last
/// words before anyone reads them.
public final class ConsoleRelay: @unchecked Sendable {
    private let output: OwnedFileDescriptor
    private let input: OwnedFileDescriptor
    private let listener: OwnedFileDescriptor?
    private let socketPath: String?
    private let writer: ConsoleLog.Writer
    private let done = DispatchSemaphore(value: 0)
    // Touched by the relay's thread only.
    private var consoles: [OwnedFileDescriptor] = []

    /// `socketPath`: where consoles connect; nil: none can (the log is still written).
    public init(pipes: ConsolePipes, log: ConsoleLog, socketPath: String?) throws(FerryError) {
        output = pipes.output.read
        input = pipes.input.write
        writer = try log.writer()
        self.socketPath = socketPath
        listener = try socketPath.map { (path) throws(FerryError) in try UnixSocket.listen(at: path) }
        if let listener { DescriptorIO.setNonBlocking(listener.rawValue) }
        // A console typing to an init that does not read must not stall the relay.
        DescriptorIO.setNonBlocking(input.rawValue)
    }

    /// Starts the thread; call once the monitor no longer needs to be single-threaded.
    public func start() {
        let thread = Thread { [self] in
            run()
            done.signal()
        }
        thread.name = "console"
        thread.start()
    }

    /// Waits up to `seconds` for the output's end (see above); true when it came.
    @discardableResult
    public func finish(seconds: Double) -> Bool {
        done.wait(timeout: .now() + seconds) == .success
    }

    private func run() {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            var entries = [pollfd(fd: output.rawValue, events: Int16(POLLIN), revents: 0)]
            if let listener { entries.append(pollfd(fd: listener.rawValue, events: Int16(POLLIN), revents: 0)) }
            let firstConsole = entries.count
            entries += consoles.map { pollfd(fd: $0.rawValue, events: Int16(POLLIN), revents: 0) }
            guard case .success = DescriptorIO.poll(&entries) else { break }
            if entries[0].revents != 0 {
                guard case .success(let count) = DescriptorIO.read(output.rawValue, into: &buffer), count > 0 else { break }
                writer.append(buffer[..<count])
                consoles.removeAll { console in !send(buffer[..<count], to: console) }
            }
            var gone: Set<Int32> = []
            for entry in entries[firstConsole...] where entry.revents != 0 {
                // Typed input the init cannot take now (its pipe is full) is dropped, as on
                // a serial line nobody reads.
                if case .success(let count) = DescriptorIO.read(entry.fd, into: &buffer), count > 0 {
                    _ = DescriptorIO.writeAll(input.rawValue, buffer[..<count])
                } else {
                    gone.insert(entry.fd)
                }
            }
            consoles.removeAll { gone.contains($0.rawValue) }
            if let listener, entries[1].revents != 0, let console = UnixSocket.accept(listener) {
                consoles.append(console)
            }
        }
        // Attached consoles see end of file: the container has stopped (or moved).
        consoles.removeAll()
        if let socketPath { unlink(socketPath) }
    }

    /// Sends to one console; false when it is gone or too slow to keep up (it is dropped
    /// rather than stall the init's output).
    private func send(_ bytes: ArraySlice<UInt8>, to console: OwnedFileDescriptor) -> Bool {
        bytes.withUnsafeBytes { raw in
            guard case .success(let sent) = valueOrErrno({ Glibc.send(console.rawValue, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) })
            else { return false }
            return sent == raw.count
        }
    }
}
