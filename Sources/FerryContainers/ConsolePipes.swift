import FerryErrors
import FerrySystem
import Glibc

/// The init's standard streams: two pipes whose far ends the monitor holds. stdout and
/// stderr share `output` (the monitor writes it to the console log and to attached
/// consoles); stdin is `input` (what `ferry console` types).
///
/// Pipes, not a pty: CRIU takes a host pty's slave as a task's stdio (`--external
/// tty[RDEV:DEV]`, a new slave by `inherit_fd` on restore), but refuses the dump once a
/// task makes it its controlling terminal ("ctty inheritance detected", probed here), as
/// any login shell or getty inside would. A pipe is dumped as an end whose peer is
/// elsewhere, and on restore CRIU takes a new pipe from whoever restores (`inherit_fd`),
/// named by the old one's inode. So each
/// monitor makes fresh pipes; a restoring one hands its init-side ends to CRIU under the
/// keys the dumping one recorded (`ConsoleKeys`, in run.json and then in the manifest).
public final class ConsolePipes {
    /// The monitor reads, the init writes.
    public let output: (read: OwnedFileDescriptor, write: OwnedFileDescriptor)
    /// The init reads, the monitor writes.
    public let input: (read: OwnedFileDescriptor, write: OwnedFileDescriptor)

    public init() throws(FerryError) {
        output = try makePipe()
        input = try makePipe()
    }

    /// CRIU's names for these pipes, as a dump of the init records them; read through the
    /// monitor's ends, which it keeps.
    public func keys() throws(FerryError) -> ConsoleKeys {
        ConsoleKeys(output: Self.key(try output.read.stat()), input: Self.key(try input.write.stat()))
    }

    static func key(_ status: stat) -> String { "pipe:[\(status.st_ino)]" }

    /// After the launch: only the init (or CRIU's restored tree) holds these ends now, so
    /// the monitor sees end of file once the init and everything it started are gone.
    public func closeInitSide() {
        output.write.close()
        input.read.close()
    }
}

/// CRIU's names (`pipe:[INODE]`) for the init's console pipes at the time of a dump.
public struct ConsoleKeys: Sendable, Codable, Equatable {
    public var output: String
    public var input: String

    public init(output: String, input: String) {
        self.output = output
        self.input = input
    }
}
