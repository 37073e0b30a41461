import FerryErrors
import Glibc

/// `fs.pipe-max-size`, raised for as long as a post-copy dump serves pages.
///
/// CRIU's lazy page server asks F_SETPIPE_SZ for 4 MiB pipes; above the limit it is refused
/// (Ferry's CRIU runs without CAP_SYS_RESOURCE), ignores the refusal and splices into a
/// descriptor it never opened ("page-pipe: splice: -1: Bad file descriptor"). The sysctl is
/// global, so it is raised only while a post-copy migration serves pages and put back after.
public final class PipeSizeLimit {
    static let path = "/proc/sys/fs/pipe-max-size"
    /// What CRIU's lazy page server asks for.
    public static let needed = 4 << 20
    /// The value before the raise; nil when it was high enough already.
    public let previous: Int?
    /// Where the value before the raise is kept until it is put back: a ferry killed
    /// meanwhile leaves it for the recovery (`restoreRecorded`).
    let record: String

    /// Raises the limit to `needed` if it is lower, recording the old value in `record`.
    public init(record: String) throws(FerryError) {
        self.record = record
        let current = try Self.read()
        guard current < Self.needed else {
            previous = nil
            return
        }
        try writeText(record, "\(current)\n", mode: 0o600)
        try Self.write(Self.needed)
        previous = current
    }

    /// Puts the value from before back.
    public func restore() throws(FerryError) {
        guard let previous else { return }
        try Self.write(previous)
        unlink(record)
    }

    /// Puts back a value that a killed ferry recorded and never restored; nothing if none.
    public static func restoreRecorded(_ record: String) throws(FerryError) {
        guard access(record, F_OK) == 0 else { return }
        guard let value = Int(try readText(record).trimmingNewline) else {
            throw FerryError(.corrupt, "\(record) does not hold a number; write the old fs.pipe-max-size back by hand and remove it")
        }
        try write(value)
        unlink(record)
    }

    public static func read() throws(FerryError) -> Int {
        let text = try readText(path)
        guard let value = Int(text.trimmingNewline) else {
            throw FerryError(.corrupt, "\(path) holds '\(text)', not a number")
        }
        return value
    }

    private static func write(_ value: Int) throws(FerryError) {
        let file = try OwnedFileDescriptor.open(path, O_WRONLY)
        try file.write("\(value)\n")
    }
}
