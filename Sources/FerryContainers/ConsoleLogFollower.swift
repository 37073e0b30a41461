import FerryErrors
import FerrySystem
import Glibc

/// `ferry logs -f`: what is kept, then what the init writes from then on, like `tail -F`.
///
/// It reads through one open descriptor of `console.log`, so nothing written between the
/// first read and the next is lost or shown twice. When the monitor rotates the file (a new
/// inode at the path), the old descriptor is read to its end before the new file is taken
/// from its start. A checkpoint and restore, local or by migration, keeps the same file:
/// the restored init's monitor appends to it, and the follower goes on.
public struct ConsoleLogFollower {
    public let log: ConsoleLog
    /// How often it looks for more: the monitor writes as the init does, with no way to
    /// wake a reader in another process short of inotify, which a network share lacks.
    public static let interval = 0.2

    public init(log: ConsoleLog) {
        self.log = log
    }

    /// Calls `emit` with the last `tail` lines kept (all with nil), then with each new
    /// chunk, until `stop` returns true (checked every `interval`).
    public func run(tail: Int?, emit: ([UInt8]) -> Void, stop: () -> Bool) {
        var file = try? OwnedFileDescriptor.open(log.current, O_RDONLY)
        let first = (try? OwnedFileDescriptor.open(log.previous, O_RDONLY).readAll()) ?? []
        let kept = first + ((try? file?.readAll()) ?? [])
        emit(tail.map { ConsoleLog.lastBytes(lines: $0, of: kept) } ?? kept)
        while !stop() {
            if let open = file, let more = try? open.readAll(), !more.isEmpty { emit(more) }
            let onDisk = fileStatus(log.current)
            let held = try? file?.stat()
            if let onDisk, onDisk.st_ino != held?.st_ino || onDisk.st_dev != held?.st_dev {
                // Rotated (or created): the rest of the old file, then the new one.
                if let rest = try? file?.readAll(), !rest.isEmpty { emit(rest) }
                file = try? OwnedFileDescriptor.open(log.current, O_RDONLY)
                continue
            }
            var none: [pollfd] = []
            _ = DescriptorIO.poll(&none, timeout: Self.interval)
        }
    }
}
