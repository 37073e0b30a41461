import ArgumentParser
import FerryContainers
import Glibc

/// `-t` / `-T` of `ferry exec` and `ferry enter`, as `lxc exec` has them.
struct TerminalOptions: ParsableArguments {
    @Flag(
        name: [.short, .customLong("tty")],
        help: "Give the command a terminal (the container's own pty) although stdin or stdout is not one.")
    var tty = false
    @Flag(
        name: [.customShort("T"), .customLong("no-tty")], help: "Give the command pipes although stdin and stdout are terminals.")
    var noTTY = false

    /// Whether this session gets a terminal: by default when ferry's stdin and stdout are both terminals.
    func allocates() throws -> Bool {
        try TerminalChoice(tty: tty, noTTY: noTTY).allocates(stdinIsTerminal: isatty(0) == 1, stdoutIsTerminal: isatty(1) == 1)
    }
}
