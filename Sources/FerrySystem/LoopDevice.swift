internal import CLinux
import FerryErrors
import Glibc

/// Loop devices for insulated private areas kept in an image file.
public enum LoopDevice {
    /// Attaches `image` to a free loop device and returns its path (/dev/loopN).
    ///
    /// The device is configured with autoclear: once the filesystem on it is unmounted and
    /// the last descriptor closed, the kernel detaches it, so a crash between mount and
    /// unmount cannot leave a stale loop device behind. The corresponding ioctls are
    /// `LOOP_CTL_GET_FREE` and `LOOP_CONFIGURE`.
    public static func attach(_ image: String, readOnly: Bool = false) throws(FerryError) -> (path: String, fd: OwnedFileDescriptor) {
        let control = try OwnedFileDescriptor.open("/dev/loop-control", O_RDWR)
        let backing = try OwnedFileDescriptor.open(image, readOnly ? O_RDONLY : O_RDWR)
        // Another process may grab the same free number; retry on EBUSY.
        for _ in 0..<16 {
            let number = try syscall("ioctl(LOOP_CTL_GET_FREE)") { fy_loop_get_free(control.rawValue) }
            let path = "/dev/loop\(number)"
            let device = try OwnedFileDescriptor.open(path, readOnly ? O_RDONLY : O_RDWR)
            switch valueOrErrno({ fy_loop_configure(device.rawValue, backing.rawValue, readOnly ? 1 : 0) }) {
            case .success: return (path, device)
            case .failure(.resourceBusy): continue
            case .failure(let errno): throw FerryError.system("ioctl(LOOP_CONFIGURE)", errno, path: path)
            }
        }
        throw FerryError(.busy, "no free loop device could be configured for \(image)")
    }
}
