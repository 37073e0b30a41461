import FerryErrors
import FerrySystem
import Glibc

/// The CRIU program Ferry drives, found by a setting and checked before use.
///
/// Debian 12's criu 3.17 cannot handle this generation of kernels, so the set-up installs
/// CRIU 4 into a private prefix; `defaultPath` points there. `--criu PATH` or `FERRY_CRIU`
/// overrides it, for a system CRIU that is new enough.
public struct CRIUEngine: Sendable {
    public let path: String

    public static let minimumVersion = CRIUVersion(major: 4, minor: 0, patch: 0)

    /// Where scripts/setup installs CRIU: a prefix keyed by version, outside any checkout,
    /// and `criu-current` pointing at the one in use.
    public static var defaultPath: String {
        let cache = getenv("FERRY_CACHE").map { String(cString: $0) } ?? "/var/cache/ferry"
        return "\(cache)/criu-current/bin/criu"
    }

    /// The engine named by the setting, or the environment, or the default.
    public init(path: String? = nil) {
        if let path {
            self.path = path
        } else if let fromEnvironment = getenv("FERRY_CRIU") {
            self.path = String(cString: fromEnvironment)
        } else {
            self.path = Self.defaultPath
        }
    }

    /// `criu --version`, parsed.
    public func version() throws(FerryError) -> CRIUVersion {
        guard access(path, X_OK) == 0 else {
            throw FerryError(
                .notFound,
                "CRIU not found at \(path); run scripts/setup, or name a CRIU >= 4.0 with --criu PATH")
        }
        let output = try Spawn.check([path, "--version"], "cannot ask \(path) for its version")
        guard let version = CRIUVersion(parsing: output.stdout) else {
            throw FerryError(.criuFailed, "cannot read a version from '\(path) --version': \(output.stdout.trimmingNewline)")
        }
        return version
    }

    /// The result of `criu check`: CRIU's own verdict on this kernel.
    public struct CheckResult: Sendable, Codable {
        public var ok: Bool
        public var text: String
    }

    public func check() throws(FerryError) -> CheckResult {
        let output = try Spawn.run([path, "check"])
        let text = (output.stdout + output.stderr)
        return CheckResult(ok: output.status == 0 && text.contains("Looks good"), text: text.trimmingNewline)
    }
}

/// A CRIU release number.
public struct CRIUVersion: Sendable, Codable, Comparable, CustomStringConvertible {
    public var major: Int
    public var minor: Int
    public var patch: Int

    public init(major: Int, minor: Int, patch: Int) {
        self.major = major
        self.minor = minor
        self.patch = patch
    }

    /// Reads "Version: 4.1.1" (the first line of `criu --version`).
    public init?(parsing text: String) {
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("Version:") }) else { return nil }
        let numbers = line.dropFirst("Version:".count).trimmingCharacters(in: " \t").split(separator: ".").compactMap { Int($0) }
        guard numbers.count >= 2 else { return nil }
        self.init(major: numbers[0], minor: numbers[1], patch: numbers.count > 2 ? numbers[2] : 0)
    }

    public var description: String { "\(major).\(minor).\(patch)" }

    public static func < (lhs: CRIUVersion, rhs: CRIUVersion) -> Bool {
        (lhs.major, lhs.minor, lhs.patch) < (rhs.major, rhs.minor, rhs.patch)
    }
}

extension Substring {
    func trimmingCharacters(in characters: String) -> Substring {
        var copy = self
        while let first = copy.first, characters.contains(first) { copy.removeFirst() }
        while let last = copy.last, characters.contains(last) { copy.removeLast() }
        return copy
    }
}
