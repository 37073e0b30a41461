import FerryMounts
import Testing

/// The handler table's classification: which row claims which mount, and its verdict.
@Suite struct FilesystemHandlerTests {
    static let tree = """
        100 50 8:1 /c/rootfs / rw - ext4 /dev/sda1 rw
        101 100 0:40 / /proc rw - proc proc rw
        102 100 0:41 / /dev rw - tmpfs tmpfs rw
        103 100 8:1 /srv/secrets /run/secrets ro - ext4 /dev/sda1 rw
        104 100 0:25 /shm/host /dev/host-shm rw - tmpfs tmpfs rw
        105 100 8:1 /srv/secrets /mnt/again ro - ext4 /dev/sda1 rw
        106 100 8:1 /c/rootfs/data /data2 rw - ext4 /dev/sda1 rw
        107 100 8:1 /srv/other /mnt/other rw - ext4 /dev/sda1 rw
        108 100 0:70 / /mnt/auto rw - autofs auto.x rw,fd=6,pgrp=4242,timeout=300,indirect,pipe_ino=1
        """

    func analysis() throws -> MountAnalysis {
        MountAnalysis(try MountInfoParser.parse(Self.tree), declaredBinds: ["/run/secrets", "/dev/host-shm"], hostPids: [4242])
    }

    func row(_ path: String) throws -> (handler: FilesystemHandler, context: MountContext, verdict: MountVerdict) {
        let analysis = try analysis()
        let mount = try #require(analysis.mounts.first { $0.mountPoint == path })
        let handler = analysis.handler(for: mount)
        return (handler, analysis.context(for: mount), handler.verdict(mount, analysis.context(for: mount)))
    }

    /// A --share and a bind of it made inside: externals of the share row; a network
    /// filesystem mounted any other way is refused with the fix.
    @Test func declaredSharesAreExternalsAndOtherNetworkMountsAreRefused() throws {
        let tree = """
            100 50 8:1 /c/rootfs / rw - ext4 /dev/sda1 rw
            101 100 0:60 / /share rw - fuse.sshfs h3:/srv rw,user_id=0,group_id=0,allow_other
            102 100 0:60 /sub /alias rw - fuse.sshfs h3:/srv rw,user_id=0,group_id=0,allow_other
            103 100 0:61 / /mnt/nfs rw - nfs4 files:/x rw,vers=4.2
            """
        let analysis = MountAnalysis(try MountInfoParser.parse(tree), declaredBinds: ["/share"], declaredShares: ["/share"])
        let share = try #require(analysis.mounts.first { $0.mountPoint == "/share" })
        let alias = try #require(analysis.mounts.first { $0.mountPoint == "/alias" })
        let other = try #require(analysis.mounts.first { $0.mountPoint == "/mnt/nfs" })
        #expect(analysis.handler(for: share).name == "declared share" && analysis.handler(for: share).criu == .external)
        #expect(analysis.context(for: share).isDeclaredDestination)
        #expect(analysis.handler(for: alias).name == "declared share" && !analysis.context(for: alias).isDeclaredDestination)
        #expect(analysis.verdict(for: other).verdict.reason?.contains("declare it with --share") == true)
        #expect(analysis.handler(for: share).equivalence.sharesSuperblock, "which mounts show one share is compared after restore")
    }

    @Test func rootAndPseudoAndTmpfs() throws {
        #expect(try row("/").handler.criu == .root)
        #expect(try row("/proc").handler.kind == .pseudo)
        #expect(try row("/dev").handler.kind == .tmpfs)
        #expect(try row("/dev").handler.criu == .dumped)
    }

    @Test func declaredBindsAreExternalsWhateverTheirType() throws {
        let secrets = try row("/run/secrets")
        #expect(secrets.handler.criu == .external)
        #expect(secrets.context.isDeclaredDestination)
        // A host tmpfs bound in is the host's: CRIU must not dump its contents.
        let shm = try row("/dev/host-shm")
        #expect(shm.handler.criu == .external)
        #expect(shm.handler.kind == .externalBind)
    }

    @Test func aCopyOfADeclaredBindIsMigratable() throws {
        let copy = try row("/mnt/again")
        #expect(copy.context.declaredBind == "/run/secrets")
        #expect(!copy.context.isDeclaredDestination)
        #expect(!copy.verdict.isBlocked)
    }

    @Test func aBindOfTheRootFilesystemIsDumpedByCRIU() throws {
        let data = try row("/data2")
        #expect(data.context.insideRootFilesystem)
        #expect(data.handler.criu == .dumped)
        #expect(data.verdict == .migratable)
    }

    @Test func anUndeclaredHostMountIsBlockedNamingTheFix() throws {
        let other = try row("/mnt/other")
        #expect(other.verdict.isBlocked)
        #expect(other.verdict.reason?.contains("--bind") == true)
    }

    @Test func autofsKnowsWhetherItsDaemonIsInside() throws {
        #expect(try row("/mnt/auto").context.ownerInsideContainer == true)
        let outside = MountAnalysis(try MountInfoParser.parse(Self.tree), hostPids: [1])
        let mount = try #require(outside.mounts.first { $0.mountPoint == "/mnt/auto" })
        #expect(outside.context(for: mount).ownerInsideContainer == false)
    }

    @Test func verdictsEncodeAsStructuredJSON() throws {
        let report = MountReport(MountTreeCapture(
            hostRoot: "/x", namespaces: [MountNamespaceCapture(inode: 1, containerPids: [1], mounts: try MountInfoParser.parse(Self.tree))],
            declaredBinds: ["/run/secrets"]))
        #expect(report.blocked.map(\.mountPoint) == ["/mnt/other", "/mnt/auto"])
        #expect(report.entries.first { $0.mountPoint == "/run/secrets" }?.handler == "declared bind")
    }
}
