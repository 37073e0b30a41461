import FerryCheckpoint
import Testing

/// What CRIU cannot carry in a container's processes here, decided before any freeze.
@Suite struct ProcessRulesTests {
    static func process(_ pid: Int32, uid: UInt32 = 0, uts: UInt64 = 7, fds: [String] = []) -> ProcessFacts {
        ProcessFacts(hostPid: pid + 1000, containerPid: pid, command: "p\(pid)", uids: [uid, uid, uid, uid], gids: [0, 0, 0, 0], utsNamespace: uts, descriptors: fds)
    }

    @Test func rootProcessesInOneUTSNamespacePass() {
        #expect(ProcessRules.blockers([Self.process(1), Self.process(20)], initUTS: 7, hostHasSysResource: false).isEmpty)
    }

    @Test func anotherUidBlocksOnlyWithoutSysResource() {
        let nobody = Self.process(30, uid: 65534)
        let blockers = ProcessRules.blockers([Self.process(1), nobody], initUTS: 7, hostHasSysResource: false)
        #expect(blockers.map(\.pid) == [30])
        #expect(blockers.first?.reason.contains("uid/gid 65534") == true)
        #expect(ProcessRules.blockers([nobody], initUTS: 7, hostHasSysResource: true).isEmpty)
    }

    @Test func aNestedUTSNamespaceAndABPFProgramBlock() {
        let blockers = ProcessRules.blockers(
            [Self.process(1), Self.process(40, uts: 9), Self.process(41, fds: ["socket:[1]", "anon_inode:bpf-prog"])], initUTS: 7,
            hostHasSysResource: true)
        #expect(blockers.map(\.pid) == [40, 41])
        #expect(blockers[0].reason.contains("uts namespace"))
        #expect(blockers[1].reason.contains("BPF"))
    }
}
