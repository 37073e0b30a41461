import FerryErrors
import Foundation
import Glibc

/// How the init last ended, as its monitor saw it: `exit.json` in the container's
/// directory, for `ferry status` after the container stopped on its own.
public struct ExitRecord: Sendable, Codable, Equatable {
    /// The exit status, or 128+N for signal N (as a shell reports it).
    public var status: Int32
    public var at: Date

    public init(status: Int32, at: Date) {
        self.status = status
        self.at = at
    }

    static func path(_ layout: ContainerLayout) -> String { "\(layout.directory)/exit.json" }

    public static func read(_ layout: ContainerLayout) -> ExitRecord? {
        try? JSONFile.read(ExitRecord.self, from: path(layout), what: "exit record")
    }

    public static func remove(_ layout: ContainerLayout) {
        unlink(path(layout))
    }

    func write(_ layout: ContainerLayout) throws(FerryError) {
        try JSONFile.write(self, to: Self.path(layout))
    }
}
