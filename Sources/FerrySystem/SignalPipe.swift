internal import CLinux
import FerryErrors
import Glibc

/// Signals turned into bytes on a pipe, so that a poll(2) loop (`ferry exec`'s relay) sees
/// them among its descriptors and acts on them in its own time, outside a signal handler.
///
/// One per process: the handler writes to the pipe of the last `catching` call.
public final class SignalPipe {
    private let read: OwnedFileDescriptor
    private let write: OwnedFileDescriptor
    private let signals: [Int32]

    /// Catches `signals` from now on (they no longer end the process) until `release`.
    /// The corresponding C function is `sigaction`.
    public init(catching signals: [Int32]) throws(FerryError) {
        (read, write) = try makePipe()
        // A handler must never block, and the loop drains whatever is there.
        DescriptorIO.setNonBlocking(read.rawValue)
        DescriptorIO.setNonBlocking(write.rawValue)
        self.signals = signals
        for number in signals {
            try syscall("sigaction(\(number))") { fy_signal_pipe_catch(write.rawValue, number) }
        }
    }

    /// The descriptor to poll for POLLIN.
    public var descriptor: Int32 { read.rawValue }

    /// The signals received since the last call, in order (none when nothing came).
    public func received() -> [Int32] {
        var buffer = [UInt8](repeating: 0, count: 64)
        var numbers: [Int32] = []
        while case .success(let count) = DescriptorIO.read(read.rawValue, into: &buffer), count > 0 {
            numbers += buffer[0..<count].map(Int32.init)
        }
        return numbers
    }

    /// Gives the signals their default action back (again: it may be called more than once).
    /// The corresponding C function is `signal` (SIG_DFL).
    public func release() {
        for number in signals { signal(number, SIG_DFL) }
    }

    /// The handler must not outlive the pipe: its descriptor number could be reused by then.
    deinit { release() }
}
