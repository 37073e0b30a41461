/// Reads rsync's `--info=progress2` output: one overall line, rewritten with `\r`, such as
/// `  1,234,567  45%   12.34MB/s    0:00:05 (xfr#3, to-chk=10/20)`.
///
/// Output arrives in chunks that may cut a line anywhere, so the reader keeps the unfinished
/// tail until its end arrives: a line parsed half would report a wrong byte count. rsync
/// rewrites the line for every file, so the reader passes on at most one progress per
/// `interval`, and the last one when rsync is done.
struct RsyncProgress {
    static let interval = 0.25
    private var pending = ""
    private var latest: TransferProgress?
    private var reportedAt: Double?

    /// Feeds a chunk of rsync's stdout that arrived at `now` (monotonic seconds); returns
    /// the newest progress when one is due.
    mutating func feed(_ chunk: String, now: Double) -> TransferProgress? {
        pending += chunk
        var lines = pending.split(separator: "\r", omittingEmptySubsequences: false)
            .flatMap { $0.split(separator: "\n", omittingEmptySubsequences: false) }
        pending = String(lines.removeLast())
        if let newest = lines.compactMap({ Self.parse($0) }).last { latest = newest }
        guard let due = latest, reportedAt.map({ now - $0 >= Self.interval }) ?? true else { return nil }
        reportedAt = now
        latest = nil
        return due
    }

    /// Once rsync has ended: the newest progress not passed on yet (its final totals).
    mutating func finish() -> TransferProgress? {
        defer { latest = nil }
        return latest
    }

    /// One progress line; nil for anything else (the `--stats` block, file names).
    static func parse(_ line: Substring) -> TransferProgress? {
        let fields = line.split(separator: " ")
        guard fields.count >= 4, fields[1].hasSuffix("%"),
            let bytes = Int(fields[0].filter { $0 != "," }),
            let percent = Int(fields[1].dropLast()),
            let rate = rate(fields[2]),
            let time = seconds(fields[3])
        else { return nil }
        // The time column is what is left while rsync runs and the time taken once it is
        // done; the bytes and the percentage give the total as rsync knows it now.
        let total = percent > 0 ? Int((Double(bytes) * 100 / Double(percent)).rounded()) : nil
        return TransferProgress(bytes: bytes, totalBytes: total, bytesPerSecond: rate, secondsLeft: percent >= 100 ? 0 : time)
    }

    /// rsync's rate units step by 1024 (its kB/s is KiB/s).
    static let rateUnits: [(suffix: String, factor: Double)] = [
        ("GB/s", 1024 * 1024 * 1024), ("MB/s", 1024 * 1024), ("kB/s", 1024), ("B/s", 1),
    ]

    /// `12.34MB/s` in bytes per second.
    static func rate(_ text: Substring) -> Double? {
        for unit in rateUnits where text.hasSuffix(unit.suffix) {
            return Double(text.dropLast(unit.suffix.count)).map { $0 * unit.factor }
        }
        return nil
    }

    /// `H:MM:SS` (or `MM:SS`) in seconds.
    static func seconds(_ text: Substring) -> Double? {
        let parts = text.split(separator: ":").map { Int($0) }
        guard (2...3).contains(parts.count), !parts.contains(nil) else { return nil }
        return Double(parts.reduce(0) { $0 * 60 + ($1 ?? 0) })
    }
}
