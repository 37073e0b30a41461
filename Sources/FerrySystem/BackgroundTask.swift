import FerryErrors
import Foundation

/// Work on a thread of its own whose outcome the caller collects later, with a deadline:
/// a relay that streams while CRIU dumps, a page server that serves while the relay feeds
/// it, a sync that runs while the memory is dumped.
public final class BackgroundTask<Value: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private var outcome: Result<Value, FerryError>?

    public init(_ name: String, _ body: @escaping @Sendable () throws(FerryError) -> Value) {
        Thread.detachNewThread { [self] in
            Thread.current.name = name
            let result: Result<Value, FerryError>
            do throws(FerryError) { result = .success(try body()) } catch { result = .failure(error) }
            condition.lock()
            outcome = result
            condition.broadcast()
            condition.unlock()
        }
    }

    /// The outcome, once the work ended; nil when it had not ended within `seconds`.
    public func wait(within seconds: Double) -> Result<Value, FerryError>? {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date(timeIntervalSinceNow: seconds)
        while outcome == nil, condition.wait(until: deadline) {}
        return outcome
    }

    /// The value, or the work's error; a timeout is an error naming `what`.
    public func value(within seconds: Double, what: String) throws(FerryError) -> Value {
        guard let outcome = wait(within: seconds) else {
            throw FerryError(.timedOut, "\(what) did not end within \(Int(seconds)) s")
        }
        return try outcome.get()
    }

    public var isFinished: Bool {
        condition.lock()
        defer { condition.unlock() }
        return outcome != nil
    }
}
