import FerryContainers
import FerryErrors
import Testing

/// `--memory`, `--cpus`, `--pids` and `--hostname`: what is accepted, how `none` removes
/// a limit, what is refused.
@Suite struct ResourceLimitsTests {
    @Test func valuesSetAndNoneRemovesOnlyItsOwnLimit() throws {
        let limits = try ResourceLimits().changing(memory: "512M", cpus: "1.5", pids: "100")
        #expect(limits == ResourceLimits(memoryBytes: 512 << 20, cpus: 1.5, pids: 100))
        #expect(limits.summary == "memory 512 MiB, cpus 1.5, pids 100")
        let fewer = try limits.changing(memory: nil, cpus: "none", pids: nil)
        #expect(fewer == ResourceLimits(memoryBytes: 512 << 20, pids: 100))
        let none = try fewer.changing(memory: "none", cpus: nil, pids: "none")
        #expect(none.isEmpty && none.summary == nil)
        #expect(try ResourceLimits().changing(memory: nil, cpus: "2", pids: nil).summary == "cpus 2")
    }

    @Test(arguments: [
        ("1K", nil, nil, "too small"), ("x", nil, nil, "x"), (nil, "0", nil, "--cpus 0"), (nil, "-1", nil, "--cpus -1"),
        (nil, "inf", nil, "--cpus inf"), (nil, nil, "1", "--pids 1"), (nil, nil, "ten", "--pids ten"),
    ] as [(String?, String?, String?, String)])
    func badValuesAreRefusedByName(_ memory: String?, _ cpus: String?, _ pids: String?, _ mention: String) {
        #expect {
            _ = try ResourceLimits().changing(memory: memory, cpus: cpus, pids: pids)
        } throws: { error in
            let error = error as? FerryError
            return error?.code == .invalidArgument && error?.message.contains(mention) == true
        }
    }

    @Test func hostnamesFollowRFC1123() throws {
        for good in ["web", "web-1", "a.b.c", "x1", String(repeating: "a", count: 63)] {
            try Hostname.validate(good)
        }
        for bad in ["", "-web", "web-", "a..b", "we_b", "wéb", String(repeating: "a", count: 64) + ".b", "a." ] {
            #expect(throws: FerryError.self, "\(bad) was accepted") { try Hostname.validate(bad) }
        }
    }
}
