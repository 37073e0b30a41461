internal import CLinux
import FerryErrors
import Glibc
import SystemPackage

/// Reading a block device itself rather than the page cache in front of it.
public enum BlockDevice {
    /// The `count` bytes at byte `offset` of `device` (fewer if the device ends first).
    ///
    /// Opened with O_DIRECT, so no page cached before another host wrote the device can
    /// answer instead. O_DIRECT needs an aligned offset, length and buffer, so whole 4 KiB
    /// blocks are read. The corresponding C function is `pread`.
    public static func readUncached(_ device: String, at offset: UInt64, count: Int) throws(FerryError) -> [UInt8] {
        let block = 4096
        let fd = try OwnedFileDescriptor.open(device, O_RDONLY | FY_O_DIRECT)
        let start = Int(offset % UInt64(block))
        let length = (start + count + block - 1) / block * block
        var allocated: UnsafeMutableRawPointer?
        let status = posix_memalign(&allocated, block, length)
        guard status == 0, let buffer = allocated else {
            throw FerryError.system("posix_memalign", Errno(rawValue: status), path: device)
        }
        defer { free(buffer) }
        let read = try syscall("pread", path: device) { pread(fd.rawValue, buffer, length, off_t(offset) - off_t(start)) }
        guard read > start else { return [] }
        return Array(UnsafeRawBufferPointer(start: buffer + start, count: min(count, read - start)))
    }
}
