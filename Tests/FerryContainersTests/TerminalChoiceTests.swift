import FerryContainers
import FerryErrors
import Testing

/// `-t`, `-T` and neither: when `ferry exec` and `ferry enter` give the command a terminal.
@Suite struct TerminalChoiceTests {
    @Test(
        arguments: [
            // (-t, -T, stdin a terminal, stdout a terminal, a terminal given)
            (false, false, true, true, true), (false, false, true, false, false), (false, false, false, true, false),
            (false, false, false, false, false), (true, false, false, false, true), (true, false, true, true, true),
            (false, true, true, true, false), (false, true, false, false, false),
        ] as [(Bool, Bool, Bool, Bool, Bool)])
    func aTerminalWhenAskedOrWhenBothEndsAreTerminals(_ tty: Bool, _ noTTY: Bool, _ stdin: Bool, _ stdout: Bool, _ expected: Bool)
        throws
    {
        #expect(
            try TerminalChoice(tty: tty, noTTY: noTTY).allocates(stdinIsTerminal: stdin, stdoutIsTerminal: stdout) == expected)
    }

    @Test func bothFlagsAreRefusedNamingThem() {
        #expect {
            _ = try TerminalChoice(tty: true, noTTY: true)
        } throws: { error in
            let error = error as? FerryError
            return error?.code == .invalidArgument && error?.message.contains("-t") == true
                && error?.message.contains("-T") == true
        }
    }
}
