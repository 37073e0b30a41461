import FerryMounts
import Testing

@Suite struct CanonicalMountTreeTests {
    /// A container tree as the kernel shows it before a checkpoint.
    static let before = """
        100 50 254:0 /var/lib/ferry/containers/c1/private/rootfs / rw,relatime - ext4 /dev/vda rw
        101 100 0:40 / /proc rw,nosuid,nodev,noexec - proc proc rw
        102 100 0:41 / /shared rw shared:7 - tmpfs tmpfs rw
        103 100 0:41 / /peer rw shared:7 - tmpfs tmpfs rw
        104 100 0:41 / /slave rw master:7 - tmpfs tmpfs rw
        105 100 254:0 /srv/host/resolv.conf /etc/resolv.conf rw - ext4 /dev/vda rw
        106 100 254:0 /var/lib/ferry/containers/c1/private/rootfs/data /data2 rw - ext4 /dev/vda rw
        107 100 0:50 / /over rw - tmpfs a rw
        108 107 0:51 / /over rw unbindable - tmpfs b rw
        """

    /// The same tree after a restore at other host paths: new ids, devices, group numbers.
    static let after = """
        300 20 7:3 /elsewhere/rootfs / rw,relatime - ext4 /dev/loop3 rw
        301 300 0:90 / /proc rw,nosuid,nodev,noexec - proc proc rw
        304 300 0:91 / /slave rw master:12 - tmpfs tmpfs rw
        302 300 0:91 / /shared rw shared:12 - tmpfs tmpfs rw
        303 300 0:91 / /peer rw shared:12 - tmpfs tmpfs rw
        305 300 8:1 /other/place/resolv.conf /etc/resolv.conf rw - ext4 /dev/sdb1 rw
        306 300 7:3 /elsewhere/rootfs/data /data2 rw - ext4 /dev/loop3 rw
        307 300 0:92 / /over rw - tmpfs a rw
        308 307 0:93 / /over rw unbindable - tmpfs b rw
        """

    func tree(_ text: String, pids: [Int32] = [1, 7]) throws -> CanonicalMountTree {
        let mounts = try MountInfoParser.parse(text)
        return CanonicalMountTree(MountTreeCapture(hostRoot: "/x", namespaces: [MountNamespaceCapture(inode: 1, containerPids: pids, mounts: mounts)]))
    }

    @Test func restoreAtOtherPathsIsEquivalent() throws {
        let expected = try tree(Self.before)
        let actual = try tree(Self.after)
        #expect(MountTreeDiff.lines(expected: expected, actual: actual) == [])
        #expect(expected == actual)
    }

    @Test func lostPropagationIsReported() throws {
        let broken = Self.after.replacingOccurrences(of: "303 300 0:91 / /peer rw shared:12", with: "303 300 0:91 / /peer rw")
        let lines = MountTreeDiff.lines(expected: try tree(Self.before), actual: try tree(broken))
        #expect(lines == ["namespace 1 (pids 1,7): /peer: peer group expected shared:1, found private"])
    }

    @Test func splitSuperblockIsReported() throws {
        let broken = Self.after.replacingOccurrences(of: "303 300 0:91 / /peer", with: "303 300 0:99 / /peer")
        let lines = MountTreeDiff.lines(expected: try tree(Self.before), actual: try tree(broken))
        // Numbering is first-seen, so the split shows on the mounts that no longer share /peer's superblock.
        #expect(lines.contains { $0.contains("/shared: superblock") })
    }

    @Test func missingOvermountAndWrongOptionsAreReported() throws {
        let broken = Self.after
            .replacingOccurrences(of: "308 307 0:93 / /over rw unbindable - tmpfs b rw\n", with: "")
            .replacingOccurrences(of: "308 307 0:93 / /over rw unbindable - tmpfs b rw", with: "")
            .replacingOccurrences(of: "301 300 0:90 / /proc rw,nosuid,nodev,noexec", with: "301 300 0:90 / /proc ro,nosuid,nodev,noexec")
        let lines = MountTreeDiff.lines(expected: try tree(Self.before), actual: try tree(broken))
        #expect(lines.contains { $0.contains("missing mount /over#1") })
        #expect(lines.contains { $0.contains("/proc: mount options expected rw,nosuid,nodev,noexec, found ro,nosuid,nodev,noexec") })
    }

    @Test func differentProcessesMeanDifferentNamespaces() throws {
        let lines = MountTreeDiff.lines(expected: try tree(Self.before), actual: try tree(Self.after, pids: [1]))
        #expect(lines.first?.contains("processes differ") == true)
    }

    @Test func handlersClassifyEachMount() throws {
        let analysis = MountAnalysis(try MountInfoParser.parse(Self.before))
        let kinds = Dictionary(uniqueKeysWithValues: analysis.mounts.map { (analysis.key(of: $0), analysis.verdict(for: $0).kind) })
        #expect(kinds["/"] == .rootfs)
        #expect(kinds["/proc"] == .pseudo)
        #expect(kinds["/shared"] == .tmpfs)
        // Not declared with --bind here: a host mount Ferry knows nothing about.
        #expect(kinds["/etc/resolv.conf"] == .externalBind)
        #expect(analysis.verdict(for: analysis.mounts[5]).verdict.isBlocked)
        #expect(kinds["/data2"] == .rootfs)
        #expect(kinds["/over#1"] == .tmpfs)
        let fuse = try MountInfoParser.parseLine("200 100 0:60 / /mnt/remote rw - fuse.sshfs me@host:/srv rw")
        let withFuse = MountAnalysis(analysis.mounts + [fuse])
        #expect(withFuse.verdict(for: fuse).verdict.isBlocked)
    }
}

import Foundation
