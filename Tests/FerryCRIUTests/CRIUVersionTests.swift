import FerryCRIU
import Testing

@Suite struct CRIUVersionTests {
    @Test func parsesCriuVersionOutput() throws {
        let version = try #require(CRIUVersion(parsing: "Version: 4.1.1\n"))
        #expect(version == CRIUVersion(major: 4, minor: 1, patch: 1))
        #expect(version >= CRIUEngine.minimumVersion)
    }

    @Test func parsesTwoPartVersionWithGitLine() throws {
        let version = try #require(CRIUVersion(parsing: "Version: 3.17\nGitID: v3.17\n"))
        #expect(version == CRIUVersion(major: 3, minor: 17, patch: 0))
        #expect(version < CRIUEngine.minimumVersion)
    }

    @Test func refusesGarbage() {
        #expect(CRIUVersion(parsing: "criu: command not found") == nil)
        #expect(CRIUVersion(parsing: "Version: x") == nil)
    }
}
