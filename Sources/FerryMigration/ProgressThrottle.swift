/// Passes on at most one progress report per `interval` and holds the newest one back for
/// the end: a transport updates its counters far more often (rsync per file, the image
/// stream per block) than anyone can read them, and a JSON reader wants lines, not a flood.
struct ProgressThrottle {
    static let interval = 0.25
    private var latest: TransferProgress?
    private var reportedAt: Double?

    /// `progress` measured at `now` (monotonic seconds); returns it when a report is due.
    mutating func offer(_ progress: TransferProgress, now: Double) -> TransferProgress? {
        guard reportedAt.map({ now - $0 >= Self.interval }) ?? true else {
            latest = progress
            return nil
        }
        reportedAt = now
        latest = nil
        return progress
    }

    /// Once the transfer is over: the newest progress not passed on yet (its final totals).
    mutating func finish() -> TransferProgress? {
        defer { latest = nil }
        return latest
    }
}
