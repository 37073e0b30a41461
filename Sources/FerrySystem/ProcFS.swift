import FerryErrors
import Glibc

/// What /proc says about a process.
public enum ProcFS {
    /// The start time (clock ticks since boot, field 22 of /proc/PID/stat). Ferry stores it
    /// next to a pid so that a pid reused by another process is not mistaken for the init.
    public static func startTime(of pid: pid_t) -> UInt64? {
        guard let fields = statFields(of: pid), fields.count > 19 else { return nil }
        return UInt64(fields[19])
    }

    /// The session id of a live process (field 6 of /proc/PID/stat, a host pid); nil for a
    /// zombie or a process that is gone.
    public static func session(of pid: pid_t) -> pid_t? {
        guard let fields = statFields(of: pid), fields.count > 3, fields[0] != "Z" else { return nil }
        return pid_t(fields[3])
    }

    /// Live processes whose session id is `session`, as host pids.
    public static func sessionMembers(_ session: pid_t) -> [pid_t] {
        ((try? directoryEntries("/proc")) ?? []).compactMap { pid_t($0) }.filter { self.session(of: $0) == session }
    }

    /// Fields 3 onwards of /proc/PID/stat (state, ppid, pgrp, session, …): those after the
    /// command name, which may contain spaces and parentheses.
    private static func statFields(of pid: pid_t) -> [Substring]? {
        guard let text = try? readText("/proc/\(pid)/stat"), let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(separator: " ")
    }

    /// Host pids of the threads of a process (used to assert single-threadedness).
    public static func threadCount(of pid: String = "self") -> Int {
        (try? directoryEntries("/proc/\(pid)/task").count) ?? 0
    }

    /// /proc/PID/status, read once so that several fields describe one moment.
    public struct Status: Sendable {
        private let text: String

        /// `pid` is a number or `self`; nil for a process that is gone.
        public init?(of pid: String) {
            guard let text = try? readText("/proc/\(pid)/status") else { return nil }
            self.text = text
        }

        /// The values of a field, split at tabs and spaces ("NSpid:\t412\t1" gives 412, 1);
        /// empty when the kernel does not write it.
        public func values(_ field: String) -> [Substring] {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") }) else { return [] }
            return line.dropFirst(field.count + 1).split(whereSeparator: { $0 == "\t" || $0 == " " })
        }

        /// A hexadecimal mask field (SigCgt, SigBlk, CapBnd); 0 when absent.
        public func mask(_ field: String) -> UInt64 {
            values(field).first.flatMap { UInt64($0, radix: 16) } ?? 0
        }
    }
}
