import FerryContainers
import FerryErrors
import FerrySystem
import Foundation
import Glibc

/// A target an admin gave up on (`ferry recover NAME --forget-target`) that may still hold
/// parts of the container: one small file per container, so concurrent migrations of other
/// containers never rewrite it.
///
/// Forgetting never touches the target: it cannot be reached. Its own lease fences any copy
/// that never got a commit; what stays (a fenced copy, a staging directory) is removed at
/// the next contact, when the next migration to that host connects and asks it to abort.
public struct ForgottenTarget: Codable, Sendable, Equatable {
    public var container: String
    public var destination: String
    /// Whether the journal was committed when it was forgotten: the target may then own a
    /// copy of its own, which no abort removes (an admin must choose).
    public var committed: Bool

    public init(container: String, destination: String, committed: Bool) {
        self.container = container
        self.destination = destination
        self.committed = committed
    }

    static let suffix = ".forgotten-target.json"

    static func path(_ root: StateRoot, _ container: String) -> String { "\(root.migrationsDirectory)/\(container)\(suffix)" }

    public func save(_ root: StateRoot) throws(FerryError) {
        try makeDirectories(root.migrationsDirectory, mode: 0o700)
        try JSONFile.write(self, to: Self.path(root, container), durable: true)
    }

    public func remove(_ root: StateRoot) {
        unlink(Self.path(root, container))
    }

    /// Every forgotten target of this host that is `destination`.
    public static func all(_ root: StateRoot, on destination: String) -> [ForgottenTarget] {
        let entries = (try? directoryEntries(root.migrationsDirectory)) ?? []
        return entries.filter { $0.hasSuffix(suffix) }.compactMap { entry in
            try? JSONFile.read(ForgottenTarget.self, from: "\(root.migrationsDirectory)/\(entry)", what: "forgotten target")
        }.filter { $0.destination == destination }
    }
}
