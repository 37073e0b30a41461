import FerrySystem

/// The end of the admin's input, given to the command's terminal as its end-of-file key (^D).
///
/// What a ^D means depends on the terminal's mode when it is read. In canonical mode the
/// line discipline makes it an end of file (`cat`); a line editor in raw mode (a shell at
/// its prompt) takes the byte itself as its end of file. But a ^D that arrives in canonical
/// mode and is still unread when the reader switches to raw mode becomes a NUL byte (the
/// kernel drops its end-of-file mark at the switch), which a shell ignores: `ferry exec -t
/// c -- sh < /dev/null` waited at its first prompt for ever, and piped lines did as often
/// as not. So a ^D goes in at the end of input, in the mode the terminal is in then, and
/// one more the first time the terminal is seen in the other mode.
struct TerminalEndOfInput {
    /// How often the relay looks at the mode while one is still to be seen.
    static let interval = 0.1

    private var sentInLineMode = false
    private var sentInRawMode = false

    /// Whether a mode is still to be seen (the relay then polls every `interval`).
    var pending: Bool { !(sentInLineMode && sentInRawMode) }

    /// Writes the ^D for the terminal's present mode unless that mode already had one.
    mutating func deliver(to terminal: PseudoTerminal) {
        guard let lines = terminal.readsLines, !(lines ? sentInLineMode : sentInRawMode) else { return }
        _ = DescriptorIO.writeAll(terminal.master.rawValue, [4][...])
        if lines { sentInLineMode = true } else { sentInRawMode = true }
    }
}
