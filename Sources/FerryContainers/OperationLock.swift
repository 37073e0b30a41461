import FerryErrors
import FerrySystem
import Glibc

/// One operation per container at a time: an exclusive flock on the container's directory
/// (or, while creating, on the containers directory, which serializes creates).
///
/// flock rather than a lock file: a crashed ferry never leaves a stale lock, and a failed
/// operation on a name that does not exist leaves nothing behind on disk.
public final class OperationLock {
    private let fd: OwnedFileDescriptor

    /// Locks an existing container.
    public init(root: StateRoot, name: ContainerName) throws(FerryError) {
        let directory = root.layout(of: name).directory
        guard access(directory, F_OK) == 0 else {
            throw FerryError(.notFound, "container \(name) does not exist under \(root.path); see 'ferry list'")
        }
        fd = try OwnedFileDescriptor.open(directory, O_RDONLY | O_DIRECTORY)
        try Self.acquire(fd, what: "container \(name)")
    }

    /// Locks the creation of containers on this host.
    public init(creatingIn root: StateRoot) throws(FerryError) {
        try root.prepare()
        fd = try OwnedFileDescriptor.open(root.containersDirectory, O_RDONLY | O_DIRECTORY)
        try Self.acquire(fd, what: "container creation under \(root.path)")
    }

    private static func acquire(_ fd: OwnedFileDescriptor, what: String) throws(FerryError) {
        // Wait a little: a `ferry list` or a start just finishing should not fail us.
        let deadline = Monotonic.now + 5
        while case .failure(let errno) = fd.tryLockExclusively() {
            guard errno == .wouldBlock, Monotonic.now < deadline else {
                throw FerryError(.busy, "\(what) is busy with another operation; wait for it to finish")
            }
            usleep(50_000)
        }
    }
}
