import FerryCRIU
import Glibc
import Testing

@Suite struct CRIUStatsTests {
    /// A stats-dump image as CRIU writes it: two magics, a length, a stats_entry whose
    /// field 1 is a dump_stats_entry (freezing 300 µs, frozen 150000 µs, 16384 pages).
    static let dumpImage: [UInt8] = {
        let dump: [UInt8] = [0x08, 0xAC, 0x02, 0x10, 0xF0, 0x93, 0x09, 0x18, 0x05, 0x20, 0x07, 0x28, 0x80, 0x80, 0x01, 0x30, 0x00, 0x38, 0x80, 0x80, 0x01, 0x48, 0x00]
        let entry: [UInt8] = [0x0A, UInt8(dump.count)] + dump
        let length = UInt32(entry.count)
        let magics: [UInt8] = [0x40, 0x59, 0x10, 0x55, 0x06, 0x33, 0x09, 0x57]
        return magics + [UInt8(length & 0xff), UInt8(length >> 8), 0, 0] + entry
    }()

    @Test func decodesDumpStats() throws {
        var stats = CRIUStats()
        try stats.merge(image: Self.dumpImage)
        #expect(stats.freezingTime == 300)
        #expect(stats.frozenTime == 150_000)
        #expect(stats.memdumpTime == 5)
        #expect(stats.memwriteTime == 7)
        #expect(stats.pagesScanned == 16384)
        #expect(stats.pagesWritten == 16384)
        #expect(stats.restoreTime == nil)
    }

    @Test func decodesRestoreStats() throws {
        let restore: [UInt8] = [0x08, 0x00, 0x10, 0x00, 0x18, 0xE8, 0x07, 0x20, 0xD0, 0x0F, 0x28, 0x10]
        let entry: [UInt8] = [0x12, UInt8(restore.count)] + restore
        var stats = CRIUStats()
        try stats.merge(image: [1, 2, 3, 4, 5, 6, 7, 8, UInt8(entry.count), 0, 0, 0] + entry)
        #expect(stats.forkingTime == 1000)
        #expect(stats.restoreTime == 2000)
        #expect(stats.pagesRestored == 16)
    }

    /// Ferry reports sizes in bytes and times in seconds; CRIU counts pages and microseconds.
    @Test func pagesAreReportedInBytesAndMicrosecondsInSeconds() throws {
        var stats = CRIUStats()
        try stats.merge(image: Self.dumpImage)
        #expect(CRIUStats.pageSize == Int(sysconf(Int32(_SC_PAGESIZE))))
        #expect(stats.bytesWritten == 16384 * CRIUStats.pageSize)
        #expect(stats.bytesScanned == 16384 * CRIUStats.pageSize)
        #expect(stats.bytesRestored == nil, "no restore stats: null, not zero")
        #expect(CRIUStats.seconds(stats.frozenTime) == 0.15)
        #expect(CRIUStats.seconds(nil) == nil)
    }

    @Test func refusesTruncatedImages() {
        var stats = CRIUStats()
        #expect(throws: (any Error).self) { try stats.merge(image: Array(Self.dumpImage.dropLast(3))) }
    }
}
