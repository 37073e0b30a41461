import FerryErrors

/// A container's hostname as the kernel and resolvers take it: RFC 1123 labels (letters,
/// digits, inner hyphens, 1–63 each) joined by dots, 64 characters at most (the kernel's
/// limit for a UTS name).
public enum Hostname {
    public static let longest = 64

    public static func validate(_ name: String) throws(FerryError) {
        let fix = "give letters, digits and inner hyphens, with dots between labels (e.g. --hostname web-1.example)"
        guard !name.isEmpty, name.utf8.count <= longest else {
            throw FerryError(.invalidArgument, "hostname '\(name)' must be 1 to \(longest) characters long; \(fix)")
        }
        for label in name.split(separator: ".", omittingEmptySubsequences: false) {
            let valid = !label.isEmpty && label.utf8.count <= 63 && label.first != "-" && label.last != "-"
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
            guard valid else { throw FerryError(.invalidArgument, "hostname '\(name)' is not a valid host name (label '\(label)'); \(fix)") }
        }
    }
}
