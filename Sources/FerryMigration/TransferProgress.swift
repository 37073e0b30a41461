/// How far a transfer has come, as any transport measures it: rsync's running totals today,
/// a page server's counters tomorrow. Values only; the migration wraps them in an event.
public struct TransferProgress: Sendable, Equatable {
    /// Bytes moved so far.
    public var bytes: Int
    /// Bytes this transfer will move in all, as far as the transport knows now (rsync learns
    /// the file list as it goes, so its total may grow); nil when unknown.
    public var totalBytes: Int?
    /// The current rate; nil before there is one.
    public var bytesPerSecond: Double?
    /// The time left at the current rate; nil when unknown.
    public var secondsLeft: Double?

    public init(bytes: Int, totalBytes: Int? = nil, bytesPerSecond: Double? = nil, secondsLeft: Double? = nil) {
        self.bytes = bytes
        self.totalBytes = totalBytes
        self.bytesPerSecond = bytesPerSecond
        self.secondsLeft = secondsLeft
    }
}
