import FerryContainers
import Testing

@Suite struct UserNamespaceMapTests {
    @Test func theFirstRangeStartsAboveTheHostUsersRanges() throws {
        #expect(try UserNamespaceMap.allocate(avoiding: []) == UserNamespaceMap(base: 1_000_000, count: 65536))
    }

    @Test func theLowestFreeAlignedRangeIsTaken() throws {
        let first = UserNamespaceMap(base: 1_000_000)
        let third = UserNamespaceMap(base: 1_000_000 + 2 * 65536)
        // The gap after the first range is used before anything above the third.
        #expect(try UserNamespaceMap.allocate(avoiding: [third, first]).base == 1_000_000 + 65536)
        // A range that overlaps the candidate off the grid pushes it to the next whole range.
        let odd = UserNamespaceMap(base: 1_000_000 + 100, count: 10)
        #expect(try UserNamespaceMap.allocate(avoiding: [odd]).base == 1_000_000 + 65536)
    }

    @Test func overlapIsInclusiveOfBothEnds() {
        let a = UserNamespaceMap(base: 100, count: 10)  // 100...109
        #expect(a.overlaps(UserNamespaceMap(base: 109, count: 1)))
        #expect(!a.overlaps(UserNamespaceMap(base: 110, count: 5)))
        #expect(a.overlaps(UserNamespaceMap(base: 50, count: 51)))
        #expect(!a.overlaps(UserNamespaceMap(base: 50, count: 50)))
    }

    @Test func aFullIdSpaceIsAClearError() {
        let everything = UserNamespaceMap(base: 1_000_000, count: UInt32.max - 1_000_000)
        #expect(throws: (any Error).self) { try UserNamespaceMap.allocate(avoiding: [everything]) }
    }

    @Test func theSummarySaysBothSides() {
        #expect(UserNamespaceMap(base: 1_000_000).summary == "0-65535 inside = 1000000-1065535 on the host")
    }
}
