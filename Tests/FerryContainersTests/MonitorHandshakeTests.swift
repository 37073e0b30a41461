import FerryContainers
import Testing

/// The monitor's one-line report to its launcher.
@Suite struct MonitorHandshakeTests {
    @Test func everyAnswerRoundTrips() {
        #expect(MonitorHandshake(parsing: MonitorHandshake.started(initPid: 4242).line) == .started(initPid: 4242))
        #expect(MonitorHandshake(parsing: MonitorHandshake.failed("no rootfs").line) == .failed("no rootfs"))
        #expect(MonitorHandshake(parsing: MonitorHandshake.exited(status: 3).line) == .exited(status: 3))
    }

    @Test func aMultiLineErrorStaysOneLine() {
        let line = MonitorHandshake.failed("first\nsecond").line
        #expect(line == "error first second\n")
    }

    @Test func nothingOrNonsenseIsNoAnswer() {
        #expect(MonitorHandshake(parsing: "") == nil)
        #expect(MonitorHandshake(parsing: "ok") == nil)
        #expect(MonitorHandshake(parsing: "ok -1\n") == nil)
        #expect(MonitorHandshake(parsing: "Segmentation fault\n") == nil)
    }
}
