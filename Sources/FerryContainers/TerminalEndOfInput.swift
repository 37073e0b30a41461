import FerrySystem

/// The end of the admin's input, given to the command's terminal as its end-of-file key (^D).
///
/// What a ^D means depends on the terminal's mode when it is read. In canonical mode the
/// line discipline makes it an end of file (`cat`); a line editor in raw mode (a shell at
/// its prompt) takes the byte itself as its end of file. But a ^D that arrives in canonical
/// mode and is still unread when the reader switches to raw mode becomes a NUL byte (the
/// kernel drops its end-of-file mark at the switch), which a shell ignores. The mode can
/// also change between looking at it and writing: a ^D sent "at the prompt" lands while
/// the shell runs the last line. One ^D per mode seen still lost both now and then (`echo
/// cmd | ferry exec -t c -- sh` waited at its next prompt for ever, one CI run in a few).
///
/// So the rule is about what the reader did with the ^D, not when it was sent: once the
/// input has ended, a ^D goes in whenever the terminal holds nothing unread and either is
/// in raw mode (the reader took the last ^D as a byte and went on: it was lost or
/// ignored) or has entered canonical mode since the last one. A reader that ignores ^D
/// altogether gets at most `limit` of them.
struct TerminalEndOfInput {
    /// How often the relay looks at the terminal while a ^D may still be needed.
    static let interval = 0.1
    /// The most ^Ds one end of input sends.
    static let limit = 4

    private var sent = 0
    private var lastSentInLineMode: Bool?

    /// Whether another ^D may still be needed (the relay then polls every `interval`).
    var pending: Bool { sent < Self.limit }

    /// Writes a ^D if the terminal's reader has read everything and the rule above asks
    /// for one.
    mutating func deliver(to terminal: PseudoTerminal) {
        guard pending, let lines = terminal.readsLines, terminal.unreadInput == 0 else { return }
        if lines && lastSentInLineMode == true { return }
        _ = DescriptorIO.writeAll(terminal.master.rawValue, [4][...])
        sent += 1
        lastSentInLineMode = lines
    }
}
