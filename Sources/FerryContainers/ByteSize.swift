import Foundation
import FerryErrors

/// Sizes as admins write them: 512M, 2G, 1048576.
public enum ByteSize {
    /// The size given to `option`, refused with the flag, the value and the fix when it is
    /// not a size or below `minimum` (so `--image 0` says "too small", not "not a number").
    public static func bytes(_ text: String, option: String, atLeast minimum: UInt64) throws(FerryError) -> UInt64 {
        let example = "e.g. \(option) 512M"
        guard let value = parse(text) else {
            throw FerryError(.invalidArgument, "\(option) '\(text)' is not a size; give a number with an optional K, M, G or T (\(example))")
        }
        guard value >= minimum else {
            throw FerryError(.invalidArgument, "\(option) \(text) is too small; give at least \(describe(minimum)) (\(example))")
        }
        return value
    }

    /// The smallest unit that writes `bytes` whole: 16M, 4K, 100.
    public static func describe(_ bytes: UInt64) -> String {
        for (suffix, shift) in [("T", 40), ("G", 30), ("M", 20), ("K", 10)] where bytes > 0 && bytes % (1 << shift) == 0 {
            return "\(bytes >> shift)\(suffix)"
        }
        return "\(bytes)"
    }

    /// nil for anything but digits with an optional unit, and for a size past 2^64.
    private static func parse(_ text: String) -> UInt64? {
        let units: [Character: UInt64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        var digits = Substring(text.uppercased())
        var multiplier: UInt64 = 1
        if digits.hasSuffix("IB") { digits = digits.dropLast(2) } else if digits.hasSuffix("B") { digits = digits.dropLast() }
        if let last = digits.last, let unit = units[last] {
            multiplier = unit
            digits = digits.dropLast()
        }
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), let value = UInt64(digits) else { return nil }
        let (product, overflow) = value.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : product
    }

    /// A size as an admin reads it: bytes below 1 KiB, else KiB, MiB or GiB with one decimal.
    public static func readable(_ bytes: Int) -> String {
        let units: [(name: String, size: Int)] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)]
        for unit in units where bytes >= unit.size {
            return String(format: "%.1f", Double(bytes) / Double(unit.size)) + " " + unit.name
        }
        return "\(bytes) B"
    }
}
