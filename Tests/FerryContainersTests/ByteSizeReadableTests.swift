import FerryContainers
import Testing

/// Sizes as progress lines and summaries show them: one decimal in the largest binary unit.
@Suite struct ByteSizeReadableTests {
    @Test(arguments: [(0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (64 << 20, "64.0 MiB"), (3 << 30 + 1 << 29, "3.5 GiB")])
    func readable(bytes: Int, text: String) {
        #expect(ByteSize.readable(bytes) == text)
    }
}
