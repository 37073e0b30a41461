import FerryErrors
import Glibc

extension Spawn {
    /// A helper started now that is given its input later, its output captured: an rsync
    /// that connects and starts its remote side before the freeze, then reads the list of
    /// paths to send on its stdin once the change tracker has drained, so that the frozen
    /// phase does not pay for ssh and rsync starting.
    public final class AwaitingInput: @unchecked Sendable {
        public let pid: pid_t
        private let input: OwnedFileDescriptor?
        private let out: OwnedFileDescriptor
        private let err: OwnedFileDescriptor
        private var finished = false

        /// Starts `argv`; its stdin is a pipe when it `takesInput`, /dev/null otherwise.
        public init(_ argv: [String], environment: [String]? = nil, takesInput: Bool, onInterrupt: OnInterrupt = .sharesFerrysSignals) throws(FerryError) {
            let outPipe = try makePipe()
            let errPipe = try makePipe()
            let inPipe = takesInput ? try makePipe() : nil
            pid = try start(
                argv, environment: environment, stdin: inPipe?.read.rawValue, stdout: outPipe.write.rawValue, stderr: errPipe.write.rawValue,
                onInterrupt: onInterrupt)
            (input, out, err) = (inPipe?.write, outPipe.read, errPipe.read)
        }

        /// Writes `input` (when the helper takes any), closes its stdin, and collects its
        /// output and exit status. `onOutput` sees stdout as it arrives.
        public func finish(input bytes: [UInt8], onOutput: ((String) -> Void)? = nil) throws(FerryError) -> Output {
            finished = true
            if let input {
                // A helper that exited early (bad arguments) tells why in its output.
                _ = DescriptorIO.writeAll(input.rawValue, bytes[...])
                input.close()
            }
            let (stdoutBytes, stderrBytes) = try drain(out, err, onFirst: onOutput)
            let status = try wait(pid)
            return Output(status: status, stdout: String(decoding: stdoutBytes, as: UTF8.self), stderr: String(decoding: stderrBytes, as: UTF8.self))
        }

        /// A helper never given its input (the step failed before) gets none: it ends on
        /// its own (an rsync with an empty list, its remote side with it) and is reaped;
        /// one that does not within two seconds (a cut link) is killed.
        deinit {
            guard !finished else { return }
            input?.close()
            let deadline = Monotonic.now + 2
            while reapIfExited(pid) == nil {
                guard Monotonic.now < deadline else {
                    kill(pid, SIGKILL)
                    _ = try? wait(pid)
                    return
                }
                usleep(10_000)
            }
        }
    }
}
