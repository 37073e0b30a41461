/// Reads rsync's `--info=progress2` output: one overall line, rewritten with `\r`, such as
/// `  1,234,567  45%   12.34MB/s    0:00:05 (xfr#3, to-chk=10/20)`.
///
/// Output arrives in chunks that may cut a line anywhere, so the reader keeps the unfinished
/// tail until its end arrives: a line parsed half would report a wrong byte count. rsync
/// rewrites the line for every file, so the reader's throttle passes on a few a second,
/// and the last one when rsync is done.
struct RsyncProgress {
    private var pending = ""
    private var throttle = ProgressThrottle()

    /// Feeds a chunk of rsync's stdout that arrived at `now` (monotonic seconds); returns
    /// the newest progress when one is due.
    mutating func feed(_ chunk: String, now: Double) -> TransferProgress? {
        pending += chunk
        // \r, \n and the one Character "\r\n" all end a line.
        var lines = pending.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        pending = String(lines.removeLast())
        guard let newest = lines.compactMap({ Self.parse($0) }).last else { return nil }
        return throttle.offer(newest, now: now)
    }

    /// Once rsync has ended: the newest progress not passed on yet (its final totals).
    mutating func finish() -> TransferProgress? {
        throttle.finish()
    }

    /// One progress line; nil for anything else (the `--stats` block, file names).
    ///
    /// The total is what the bytes and the percentage imply (rsync's own total, as far as
    /// its file list goes yet). The time left is worked out from it and the rate: rsync's
    /// time column shows the time left on some lines and the time taken on others (those
    /// that end a file, `xfr#N`), so it is not read.
    static func parse(_ line: Substring) -> TransferProgress? {
        let fields = line.split(separator: " ")
        guard fields.count >= 3, fields[1].hasSuffix("%"),
            let bytes = Int(fields[0].filter { $0 != "," }),
            let percent = Int(fields[1].dropLast()),
            let rate = rate(fields[2])
        else { return nil }
        let total = percent > 0 ? max(bytes, Int((Double(bytes) * 100 / Double(percent)).rounded())) : nil
        let left = total.flatMap { total in rate > 0 ? Double(total - bytes) / rate : nil }
        return TransferProgress(bytes: bytes, totalBytes: total, bytesPerSecond: rate, secondsLeft: percent >= 100 ? 0 : left)
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
}
