import Foundation
import FerryErrors

/// Sizes as admins write them: 512M, 2G, 1048576.
public enum ByteSize {
    public static func bytes(_ text: String) throws(FerryError) -> UInt64 {
        let units: [Character: UInt64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        var digits = Substring(text.uppercased())
        var multiplier: UInt64 = 1
        if digits.hasSuffix("IB") { digits = digits.dropLast(2) } else if digits.hasSuffix("B") { digits = digits.dropLast() }
        if let last = digits.last, let unit = units[last] {
            multiplier = unit
            digits = digits.dropLast()
        }
        guard let value = UInt64(digits), value > 0 else {
            throw FerryError(.invalidArgument, "size '\(text)' is not a number with an optional K, M, G or T")
        }
        let (product, overflow) = value.multipliedReportingOverflow(by: multiplier)
        guard !overflow else { throw FerryError(.invalidArgument, "size '\(text)' is too large") }
        return product
    }

    /// A size as an admin reads it: bytes below 1 KiB, else KiB, MiB or GiB with one decimal.
    public static func describe(_ bytes: Int) -> String {
        let units: [(name: String, size: Int)] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)]
        for unit in units where bytes >= unit.size {
            return String(format: "%.1f", Double(bytes) / Double(unit.size)) + " " + unit.name
        }
        return "\(bytes) B"
    }
}
