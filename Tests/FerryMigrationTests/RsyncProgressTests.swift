import Testing

@testable import FerryMigration

/// rsync 3.x `--info=progress2` output, as rsync wrote it here (`\r` between updates, the
/// `--stats` block after the last).
@Suite struct RsyncProgressTests {
    static let output =
        "\r         32,768   0%    0.00kB/s    0:00:00  "
        + "\r        300,000   3%   84.95MB/s    0:00:00 (xfr#1, to-chk=29/31)"
        + "\r      3,365,536  37%    2.94MB/s    0:00:01  "
        + "\r      9,000,000 100%    2.92MB/s    0:00:02 (xfr#30, to-chk=0/31)\n"
        + "\nNumber of files: 31 (reg: 30, dir: 1)\nTotal file size: 9,000,000 bytes\nTotal bytes sent: 9,003,902\n"
        + "\nsent 9,003,902 bytes  received 589 bytes  2,572,711.71 bytes/sec\ntotal size is 9,000,000  speedup is 1.00\n"

    @Test func readsBytesTotalRateAndTimeLeft() throws {
        let line = try #require(RsyncProgress.parse("      3,365,536  37%    2.94MB/s    0:00:01  "))
        #expect(line.bytes == 3_365_536)
        #expect(line.totalBytes == 9_096_043)  // 3,365,536 is 37 % of it
        let rate = try #require(line.bytesPerSecond)
        #expect(abs(rate - 2.94 * 1024 * 1024) < 1)
        // (total - bytes) / rate, not rsync's time column.
        let left = try #require(line.secondsLeft)
        #expect(abs(left - Double(9_096_043 - 3_365_536) / rate) < 0.001)
    }

    @Test func aFinishedTransferHasNothingLeft() throws {
        let done = try #require(RsyncProgress.parse("      9,000,000 100%    2.92MB/s    0:00:02 (xfr#30, to-chk=0/31)"))
        #expect(done.bytes == 9_000_000 && done.totalBytes == 9_000_000 && done.secondsLeft == 0)
    }

    @Test func noTotalBeforeTheFirstPercent() throws {
        let start = try #require(RsyncProgress.parse("         32,768   0%    0.00kB/s    0:00:00  "))
        #expect(start.bytes == 32_768 && start.totalBytes == nil && start.secondsLeft == nil && start.bytesPerSecond == 0)
    }

    @Test(arguments: [("512.00B/s", 512.0), ("1.50kB/s", 1536.0), ("2.00MB/s", 2_097_152.0), ("1.00GB/s", 1_073_741_824.0)])
    func rateUnitsStepBy1024(text: String, bytesPerSecond: Double) {
        #expect(RsyncProgress.rate(Substring(text)) == bytesPerSecond)
    }

    @Test(arguments: [
        "Number of files: 31 (reg: 30, dir: 1)", "Total bytes sent: 9,003,902", "sent 9,003,902 bytes  received 589 bytes  2,572,711.71 bytes/sec",
        "total size is 9,000,000  speedup is 1.00", "", "rootfs/etc/100% sure", "12 34% fast",
    ])
    func otherLinesAreNotProgress(line: String) {
        #expect(RsyncProgress.parse(Substring(line)) == nil)
    }

    /// Chunks cut lines anywhere; a half line must not be read as a smaller byte count.
    @Test func aLineCutBetweenChunksIsReadWhole() {
        let text = Self.output
        let start = text.distance(to: "3,365,536")
        let end = text.distance(to: "      9,000,000")
        // The line `3,365,536 37 %` arrives in two pieces, far apart in time.
        let chunks = [text.slice(0, start + 3), text.slice(start + 3, end), text.slice(end, text.count)]
        var reader = RsyncProgress()
        var seen: [Int] = []
        for (index, chunk) in chunks.enumerated() {
            if let progress = reader.feed(chunk, now: Double(index) * 10) { seen.append(progress.bytes) }
        }
        if let last = reader.finish() { seen.append(last.bytes) }
        #expect(seen == [300_000, 3_365_536, 9_000_000])
    }

    /// rsync rewrites its line for every file: at most one report per interval, and the
    /// final totals once rsync is done.
    @Test func reportsAtMostOncePerIntervalAndTheLastAtTheEnd() {
        var reader = RsyncProgress()
        var reported: [Int] = []
        let lines = Self.output.split(separator: "\r").map { "\r" + $0 }
        for (index, line) in lines.enumerated() {
            if let progress = reader.feed(String(line), now: Double(index) * ProgressThrottle.interval / 4) { reported.append(progress.bytes) }
        }
        #expect(reported == [32_768])
        #expect(reader.finish()?.bytes == 9_000_000)
        #expect(reader.finish() == nil)
    }
}

extension String {
    /// The offset of `needle`'s first character.
    fileprivate func distance(to needle: String) -> Int {
        guard let range = range(of: needle) else { return 0 }
        return distance(from: startIndex, to: range.lowerBound)
    }

    /// The characters from offset `from` up to `to`.
    fileprivate func slice(_ from: Int, _ to: Int) -> String {
        String(dropFirst(from).prefix(to - from))
    }
}
