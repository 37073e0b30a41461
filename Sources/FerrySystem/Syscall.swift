import FerryErrors
import Glibc
import SystemPackage

/// Runs a system call that returns -1 and sets errno on failure, retrying on EINTR unless
/// told not to.
///
/// Every raw call in Ferry goes through here, so EINTR is handled in one place: a signal
/// delivered to the process (SIGCHLD from a helper, SIGWINCH on a terminal) must never
/// look like a failure. `retryOnInterrupt: false` is for the rare caller that wants to
/// see the interruption itself, as in swift-system.
@inline(__always)
public func valueOrErrno<T: FixedWidthInteger>(
    retryOnInterrupt: Bool = true, _ body: () -> T
) -> Result<T, Errno> {
    while true {
        let value = body()
        if value != -1 { return .success(value) }
        let error = Errno(rawValue: Glibc.errno)
        if error != .interrupted || !retryOnInterrupt { return .failure(error) }
    }
}

/// Like `valueOrErrno`, but throws a `FerryError` naming the call and the path.
@inline(__always)
@discardableResult
public func syscall<T: FixedWidthInteger>(
    _ name: String, path: String? = nil, _ body: () -> T
) throws(FerryError) -> T {
    switch valueOrErrno(body) {
    case .success(let value): return value
    case .failure(let errno): throw FerryError.system(name, errno, path: path)
    }
}
