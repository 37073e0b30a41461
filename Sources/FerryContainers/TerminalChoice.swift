import FerryErrors

/// Whether `ferry exec` and `ferry enter` give the command a terminal: `-t` always, `-T`
/// never, and by default when the admin's stdin and stdout are both terminals (as `lxc
/// exec` decides). Stdout counts too: `ferry exec c -- ls > list` run from a shell must
/// write plain lines, not a terminal's CR LF and colours.
public enum TerminalChoice: Sendable, Equatable {
    case automatic
    case always
    case never

    /// From the two flags; both at once is a contradiction the admin must resolve.
    public init(tty: Bool, noTTY: Bool) throws(FerryError) {
        switch (tty, noTTY) {
        case (true, true):
            throw FerryError(.invalidArgument, "-t (a terminal) and -T (no terminal) contradict each other; give one of them")
        case (true, false): self = .always
        case (false, true): self = .never
        case (false, false): self = .automatic
        }
    }

    public func allocates(stdinIsTerminal: Bool, stdoutIsTerminal: Bool) -> Bool {
        switch self {
        case .always: true
        case .never: false
        case .automatic: stdinIsTerminal && stdoutIsTerminal
        }
    }
}
