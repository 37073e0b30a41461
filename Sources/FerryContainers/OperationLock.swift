import FerryErrors
import FerrySystem
import Glibc

/// One operation per container at a time: an exclusive flock on `locks/NAME`.
///
/// flock (not a pid file) so a crashed ferry never leaves a stale lock behind.
public final class OperationLock {
    private let fd: OwnedFileDescriptor

    public init(root: StateRoot, name: ContainerName, operation: String) throws(FerryError) {
        try root.prepare()
        let path = "\(root.locksDirectory)/\(name.value)"
        fd = try OwnedFileDescriptor.open(path, O_RDWR | O_CREAT)
        if flock(fd.rawValue, LOCK_EX | LOCK_NB) != 0 {
            let holder = (try? readText(path))?.trimmingNewline ?? ""
            throw FerryError(
                .busy,
                "container \(name) is busy with another operation\(holder.isEmpty ? "" : " (\(holder))"); wait for it to finish")
        }
        _ = ftruncate(fd.rawValue, 0)
        try? fd.write("\(operation) by pid \(getpid())\n")
    }
}
