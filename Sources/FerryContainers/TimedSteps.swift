import FerrySystem
import Foundation
import Logging

extension Logger {
    /// Runs one step of an operation and logs it with its duration (at info: `-v` shows
    /// it), or logs its failure (at warning) before passing the error on.
    public func timed<T, E: Error>(_ step: String, metadata: Metadata = [:], _ body: () throws(E) -> T) throws(E) -> T {
        let started = Monotonic.now
        do {
            let value = try body()
            var fields = metadata
            fields["step"] = "\(step)"
            fields["seconds"] = "\(String(format: "%.3f", Monotonic.now - started))"
            info("step done", metadata: fields)
            return value
        } catch {
            var fields = metadata
            fields["step"] = "\(step)"
            fields["error"] = "\(error)"
            warning("step failed", metadata: fields)
            throw error
        }
    }
}
