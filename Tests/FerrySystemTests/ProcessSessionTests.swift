import FerryErrors
import FerrySystem
import Foundation
import Testing

/// ProcessSession needs no privileges: it signals this user's own children.
@Suite struct ProcessSessionTests {
    /// Starts `script` in a session of its own and waits until `count` processes are in it.
    private func session(running script: String, count: Int) throws -> (pid: pid_t, session: ProcessSession) {
        let pid = try Spawn.start(["/bin/sh", "-c", script], environment: Spawn.defaultEnvironment, newSession: true)
        let session = ProcessSession(id: pid)
        let deadline = Monotonic.now + 10
        while session.members().count < count, Monotonic.now < deadline { usleep(10_000) }
        let started = session.members().count >= count
        if !started {
            session.kill()
            _ = try? Spawn.wait(pid)
        }
        try #require(started, "the session of \(pid) never had \(count) processes")
        return (pid, session)
    }

    @Test func aSignalReachesEveryMemberBackgroundAndStoppedOnesToo() throws {
        let (pid, session) = try session(running: "sleep 30 & sleep 31 & wait", count: 3)
        let background = session.members().map(\.pid).filter { $0 != pid }
        #expect(background.count == 2)
        // A stopped one (^Z) ends too.
        try ProcessHandle(pid: background[0]).signal(SIGSTOP)
        session.signal(SIGTERM)
        #expect(session.waitUntilEmpty(deadline: Monotonic.now + 10))
        #expect(try Spawn.wait(pid) == 128 + SIGTERM)
    }

    @Test func whatIgnoresTheSignalIsKilled() throws {
        let (pid, session) = try session(running: "trap '' TERM; sleep 30 & wait", count: 2)
        session.signal(SIGTERM)
        #expect(!session.waitUntilEmpty(deadline: Monotonic.now + 0.3))
        session.kill()
        #expect(session.waitUntilEmpty(deadline: Monotonic.now + 10))
        #expect(try Spawn.wait(pid) == 128 + SIGKILL)
    }
}
