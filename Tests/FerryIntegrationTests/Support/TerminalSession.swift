import FerrySystem
import Foundation
import Glibc

/// ferry at a real terminal, as an admin runs it: a pseudo-terminal pair opened here, ferry
/// started on its slave as its controlling terminal, the test typing and reading at the
/// master. Resizing the slave sends ferry SIGWINCH from the kernel, as a terminal window does.
final class TerminalSession {
    let pid: pid_t
    private let process: ProcessHandle
    private let master: OwnedFileDescriptor
    private let slavePath: String
    /// Everything ferry wrote, for failure messages.
    private(set) var transcript = ""
    /// What no `waitFor` has matched yet.
    private var unmatched = ""
    private var status: Int32?

    init(_ ferry: Ferry, _ arguments: [String], rows: Int = 24, columns: Int = 80) throws {
        // A pair on the host's devpts (this process's root), the slave taken as its peer.
        let pair = try PseudoTerminal.open(inRootOf: getpid())
        master = pair.master
        let slave = pair.slave
        defer { slave.close() }
        slavePath = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(slave.rawValue)")
        try Shell.run(["stty", "-F", slavePath, "rows", "\(rows)", "cols", "\(columns)"])
        pid = try ferry.start(arguments, terminal: slave.rawValue)
        process = try ProcessHandle(pid: pid)
    }

    /// Keys as typed: "\u{04}" is Ctrl-D, "\u{1a}" Ctrl-Z, "\u{03}" Ctrl-C.
    func type(_ keys: String) throws {
        guard case .success = DescriptorIO.writeAll(master.rawValue, Array(keys.utf8)[...]) else {
            throw TestFailure("cannot type into the terminal; it showed: \(transcript)")
        }
    }

    /// Waits until ferry has written `text` since the last match, at most `seconds`.
    func waitFor(_ text: String, seconds: Double = 15) throws {
        let deadline = Monotonic.now + seconds
        while !unmatched.contains(text) {
            guard Monotonic.now < deadline, readSome(until: deadline) else {
                throw TestFailure("waited \(seconds) s for '\(text)'; the terminal showed: \(transcript.debugDescription)")
            }
        }
        if let range = unmatched.range(of: text) { unmatched = String(unmatched[range.upperBound...]) }
    }

    /// Types `line` and a return at a shell's prompt, then waits for each of `answers` in
    /// turn and for the next `prompt`.
    func command(_ line: String, answers: [String], prompt: String) throws {
        try type(line + "\n")
        for answer in answers { try waitFor(answer) }
        try waitFor(prompt)
    }

    /// Gives the terminal a new window size (the kernel sends ferry SIGWINCH).
    func resize(rows: Int, columns: Int) throws {
        try Shell.run(["stty", "-F", slavePath, "rows", "\(rows)", "cols", "\(columns)"])
    }

    /// The terminal's settings as `stty -a` prints them ("icanon", or "-icanon" when raw).
    func settings() throws -> String {
        try Shell.run(["stty", "-F", slavePath, "-a"])
    }

    func signal(_ number: Int32) throws {
        try process.signal(number)
    }

    /// Waits for ferry to exit, at most `seconds`, reading what it still writes, and
    /// returns its exit status.
    func exitStatus(within seconds: Double = 15) throws -> Int32 {
        if let status { return status }
        let deadline = Monotonic.now + seconds
        while !process.waitForExit(seconds: 0) {
            guard Monotonic.now < deadline else {
                throw TestFailure("ferry did not exit within \(seconds) s; the terminal showed: \(transcript.debugDescription)")
            }
            // Returns early when the terminal has nothing more to say (every slave closed).
            if !readSome(until: deadline) { _ = process.waitForExit(seconds: max(0, deadline - Monotonic.now)) }
        }
        let status = try Spawn.wait(pid)
        self.status = status
        return status
    }

    /// Ends ferry (SIGKILL) if it still runs; for the test's `defer`.
    func close() {
        if status == nil {
            try? process.signal(SIGKILL)
            status = try? Spawn.wait(pid)
        }
    }

    /// Reads what ferry wrote, waiting until `deadline` for something to come; false once
    /// the terminal is closed on ferry's side or the time ran out.
    private func readSome(until deadline: Double) -> Bool {
        var polls = [pollfd(fd: master.rawValue, events: Int16(POLLIN), revents: 0)]
        guard case .success(let ready) = DescriptorIO.poll(&polls, timeout: max(0, deadline - Monotonic.now)), ready > 0 else {
            return false
        }
        var buffer = [UInt8](repeating: 0, count: 4096)
        guard case .success(let count) = DescriptorIO.read(master.rawValue, into: &buffer), count > 0 else { return false }
        let text = String(decoding: buffer[0..<count], as: UTF8.self)
        transcript += text
        unmatched += text
        return true
    }
}
