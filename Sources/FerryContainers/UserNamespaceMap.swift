import FerryErrors
import Foundation

/// A `--userns` container's id range: ids 0..<count inside are base..<base+count on the
/// host, as one line of /etc/subuid would give a user (LXD's unprivileged default).
///
/// CRIU restores the map it dumped and cannot remap, so the range travels with the
/// container and a migration target must have the same range free.
public struct UserNamespaceMap: Sendable, Codable, Equatable {
    public var base: UInt32
    public var count: UInt32

    public init(base: UInt32, count: UInt32 = Self.rangeSize) {
        self.base = base
        self.count = count
    }

    /// 65536 ids, the size every distro's packages and /etc/subuid expect.
    public static let rangeSize: UInt32 = 65536
    /// The first range starts here: above the 100000-based ranges `useradd` hands to the
    /// host's own users in /etc/subuid, so a container never shares ids with theirs.
    public static let firstBase: UInt32 = 1_000_000
    /// The last range that fits below the overflow id 4294967294.
    static let lastBase: UInt32 = UInt32.max - 2 * rangeSize

    public var last: UInt32 { base + count - 1 }

    public func overlaps(_ other: UserNamespaceMap) -> Bool { base <= other.last && other.base <= last }

    /// `ferry status`'s words for it.
    public var summary: String { "0-\(count - 1) inside = \(base)-\(last) on the host" }

    /// The lowest free range not overlapping `taken`.
    public static func allocate(avoiding taken: [UserNamespaceMap]) throws(FerryError) -> UserNamespaceMap {
        var candidate = UserNamespaceMap(base: firstBase)
        while let clash = taken.filter({ $0.overlaps(candidate) }).max(by: { $0.last < $1.last }) {
            // Ranges sit on a grid of whole ranges from `firstBase`, so ids stay readable.
            let past = UInt64(clash.last) + 1 - UInt64(firstBase)
            let aligned = UInt64(firstBase) + (past + UInt64(rangeSize) - 1) / UInt64(rangeSize) * UInt64(rangeSize)
            guard aligned <= UInt64(lastBase) else {
                throw FerryError(.busy, "no free uid range of \(rangeSize) ids is left for a --userns container; destroy unused --userns containers")
            }
            candidate = UserNamespaceMap(base: UInt32(aligned))
        }
        return candidate
    }
}
