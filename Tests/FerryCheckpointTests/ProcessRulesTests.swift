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

/// Files on a --share that no path on the file server brings back.
@Suite struct ShareHardCaseTests {
    static let shares = ShareHardCases.Shares(mountIDs: [60, 61], mountPoints: ["/share", "/alias"])

    static func process(_ pid: Int32, files: [ProcessFacts.OpenFile] = [], sockets: [String] = []) -> ProcessFacts {
        ProcessFacts(
            hostPid: pid + 1000, containerPid: pid, command: "p\(pid)", uids: [0, 0, 0, 0], gids: [0, 0, 0, 0], utsNamespace: 7, descriptors: [],
            files: files, boundSockets: sockets)
    }

    @Test func ordinaryFilesOnTheShareAndFIFOsElsewherePass() {
        let process = Self.process(
            1,
            files: [
                .init(path: "/share/log", kind: .regular, mountID: 60), .init(path: "/share", kind: .directory, mountID: 60),
                .init(path: "/run/fifo", kind: .fifo, mountID: 30), .init(path: "/tmp/gone", kind: .regular, mountID: 30, deleted: true),
            ], sockets: ["/run/sock", "/sharedir/sock"])
        #expect(ShareHardCases.blockers([process], shares: Self.shares).isEmpty)
    }

    @Test func aFIFOADeletedFileAndASocketOnTheShareBlock() {
        let blockers = ShareHardCases.blockers(
            [
                Self.process(1, files: [.init(path: "/share/fifo", kind: .fifo, mountID: 60)], sockets: ["/alias/app.sock"]),
                Self.process(
                    2,
                    files: [
                        .init(path: "/share/old", kind: .regular, mountID: 60, deleted: true),
                        .init(path: "/alias/.fuse_hidden0000000200000001", kind: .regular, mountID: 61),
                    ], sockets: ["/alias/app.sock"]),
            ], shares: Self.shares)
        #expect(blockers.map(\.pid) == [1, 1, 2, 2], "\(blockers)")
        #expect(blockers[0].reason.contains("FIFO /share/fifo"))
        #expect(blockers[1].reason.contains("unix socket /alias/app.sock"))
        #expect(blockers[2].reason.contains("/share/old, deleted"))
        #expect(blockers[3].reason.contains(".fuse_hidden"))
    }

    @Test func withoutSharesNothingIsLookedAt() {
        let process = Self.process(1, files: [.init(path: "/x/fifo", kind: .fifo, mountID: 60)])
        #expect(ShareHardCases.blockers([process], shares: .init(mountIDs: [], mountPoints: [])).isEmpty)
    }
}
