import SystemPackage

/// The one error Ferry's libraries throw.
///
/// `message` is written for the admin: it names the thing that is wrong and, where there is
/// one, the fix. `cause` keeps the low-level reason (an errno, CRIU's own message, a path)
/// for `--verbose`, so the first line stays short.
public struct FerryError: Error, CustomStringConvertible, Sendable {
    public var code: Code
    public var message: String
    public var cause: Cause?

    public init(_ code: Code, _ message: String, cause: Cause? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String { message }

    /// The message followed by every cause, one per line, as `--verbose` prints it.
    public var detailedDescription: String {
        var lines = [message]
        var next = cause
        while let current = next {
            lines.append("  caused by: \(current.summary)")
            if case .error(let inner) = current, let ferry = inner as? FerryError {
                next = ferry.cause
            } else {
                next = nil
            }
        }
        return lines.joined(separator: "\n")
    }

    /// An extensible set of error kinds: callers and tests match on these, never on text.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let notFound = Code(rawValue: "notFound")
        public static let alreadyExists = Code(rawValue: "alreadyExists")
        public static let invalidArgument = Code(rawValue: "invalidArgument")
        public static let invalidState = Code(rawValue: "invalidState")
        public static let busy = Code(rawValue: "busy")
        public static let kernelUnsupported = Code(rawValue: "kernelUnsupported")
        public static let systemCallFailed = Code(rawValue: "systemCallFailed")
        public static let commandFailed = Code(rawValue: "commandFailed")
        public static let criuFailed = Code(rawValue: "criuFailed")
        public static let mountTreeMismatch = Code(rawValue: "mountTreeMismatch")
        public static let corrupt = Code(rawValue: "corrupt")
        public static let unsafePath = Code(rawValue: "unsafePath")
        public static let timedOut = Code(rawValue: "timedOut")
        /// The other side answered, and its answer is no (a target declining a commit): unlike
        /// a broken connection, nothing is left in doubt.
        public static let declined = Code(rawValue: "declined")
        /// `ferry exec` of a command that does not exist in the container (exit 127, as a shell).
        public static let commandNotFound = Code(rawValue: "commandNotFound")
        /// `ferry exec` of a command that cannot be executed (exit 126, as a shell).
        public static let commandNotExecutable = Code(rawValue: "commandNotExecutable")
        /// Ctrl-C, SIGTERM or SIGHUP ended the work (after its rollback): exit 128+signal.
        public static let interrupted = Code(rawValue: "interrupted")
    }

    /// Why a lower layer failed.
    public enum Cause: Sendable {
        case errno(Errno, call: String, path: String?)
        case output(command: String, status: Int32, text: String)
        case error(any Error & Sendable)

        public var summary: String {
            switch self {
            case .errno(let errno, let call, let path):
                let place = path.map { " on \($0)" } ?? ""
                return "\(call)\(place): \(errno) (errno \(errno.rawValue))"
            case .output(let command, let status, let text):
                let tail = text.split(separator: "\n").suffix(5).joined(separator: " | ")
                return "\(command) exited with \(status): \(tail)"
            case .error(let error):
                return "\(error)"
            }
        }
    }
}

extension FerryError {
    /// A failed system call, with the errno and the path it was about.
    public static func system(
        _ call: String, _ errno: Errno, path: String? = nil, _ message: String? = nil
    ) -> FerryError {
        let text = message ?? "\(call)\(path.map { " on \($0)" } ?? "") failed: \(errno)"
        return FerryError(.systemCallFailed, text, cause: .errno(errno, call: call, path: path))
    }
}
