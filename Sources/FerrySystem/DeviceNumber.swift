import Glibc

/// A dev_t split the way mountinfo prints it (`major:minor`).
public struct DeviceNumber: Sendable, Hashable, CustomStringConvertible {
    public var major: UInt32
    public var minor: UInt32

    /// Decodes glibc's dev_t encoding (the `major`/`minor` macros, which Swift cannot import).
    public init(_ device: dev_t) {
        let value = UInt64(device)
        major = UInt32(((value >> 8) & 0xfff) | ((value >> 32) & ~0xfff))
        minor = UInt32((value & 0xff) | ((value >> 12) & ~0xff))
    }

    public init(major: UInt32, minor: UInt32) {
        self.major = major
        self.minor = minor
    }

    public var rawValue: dev_t {
        let high = (UInt64(major) & 0xffff_f000) << 32 | (UInt64(minor) & 0xffff_ff00) << 12
        return dev_t(high | (UInt64(major) & 0xfff) << 8 | (UInt64(minor) & 0xff))
    }

    public var description: String { "\(major):\(minor)" }
}
