import FerryErrors
import Glibc
import SystemPackage

/// read(2), write(2) and poll(2) on descriptors by number: Ferry's own stdio and the pipes
/// of the relays and line readers, as well as those an `OwnedFileDescriptor` holds.
///
/// Each goes through `valueOrErrno`, so a signal never ends a copy loop early, never makes
/// a relay drop what it had read, and never cuts a wait short.
public enum DescriptorIO {
    /// Reads up to `buffer.count` bytes into `buffer`; 0 means end of file.
    /// The corresponding C function is `read`.
    public static func read(_ fd: Int32, into buffer: inout [UInt8]) -> Result<Int, Errno> {
        valueOrErrno { buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) } }
    }

    /// Writes all of `bytes`, carrying on after short writes.
    /// The corresponding C function is `write`.
    public static func writeAll(_ fd: Int32, _ bytes: ArraySlice<UInt8>) -> Result<Void, Errno> {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                switch valueOrErrno({ Glibc.write(fd, raw.baseAddress?.advanced(by: offset), raw.count - offset) }) {
                case .success(let written): offset += written
                case .failure(let errno): return .failure(errno)
                }
            }
            return .success(())
        }
    }

    /// Waits until an entry is ready, at most `seconds` (nil: without limit), and returns how
    /// many are; 0 when the time ran out. An interrupted wait resumes with the time left.
    /// The corresponding C function is `poll`.
    public static func poll(_ entries: inout [pollfd], timeout seconds: Double? = nil) -> Result<Int32, Errno> {
        guard let seconds else {
            return valueOrErrno { Glibc.poll(&entries, nfds_t(entries.count), -1) }
        }
        let deadline = Monotonic.now + seconds
        return valueOrErrno {
            Glibc.poll(&entries, nfds_t(entries.count), Int32(max(0, deadline - Monotonic.now) * 1000))
        }
    }

    /// Adds O_NONBLOCK to the descriptor's status flags.
    /// The corresponding C function is `fcntl` (F_SETFL).
    public static func setNonBlocking(_ fd: Int32) {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    }
}
