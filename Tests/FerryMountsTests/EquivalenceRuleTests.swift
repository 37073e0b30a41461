import FerryMounts
import Testing

/// One test per rule of what the restore check leaves out: each difference here is the
/// host's, never the container's, so it must never stop a restored container. And the
/// counterpart: a difference that is the container's is still reported.
@Suite struct EquivalenceRuleTests {
    func capture(_ text: String, binds: [String] = [], pids: [Int32] = [1]) throws -> MountTreeCapture {
        MountTreeCapture(
            hostRoot: "/x", namespaces: [MountNamespaceCapture(inode: 1, containerPids: pids, mounts: try MountInfoParser.parse(text))],
            declaredBinds: binds)
    }

    func differences(_ before: String, _ after: String, binds: [String] = []) throws -> [String] {
        MountTreeDiff.lines(expected: try capture(before, binds: binds), actual: try capture(after, binds: binds))
    }

    static let proc = "101 100 0:40 / /proc rw,nosuid,nodev,noexec - proc proc rw"

    @Test func mountIdsDevicesAndPeerGroupNumbersAreTheHosts() throws {
        let before = "100 50 8:1 /c/rootfs / rw - ext4 /dev/sda1 rw\n102 100 0:41 / /s rw shared:7 - tmpfs t rw\n103 100 0:41 / /p rw shared:7 - tmpfs t rw"
        let after = "900 20 8:1 /c/rootfs / rw - ext4 /dev/sda1 rw\n902 900 0:77 / /s rw shared:31 - tmpfs t rw\n903 900 0:77 / /p rw shared:31 - tmpfs t rw"
        #expect(try differences(before, after) == [])
    }

    /// `--dst-storage insulated`: the root moves from the host's filesystem onto an ext4
    /// image on a loop device with other superblock options and mount flags.
    @Test func theRootsStorageIsTheHosts() throws {
        let before = "100 50 0:33 /var/lib/ferry/containers/c/private/rootfs / rw,relatime - xfs /dev/vda2 rw,attr2,inode64\n" + Self.proc
        let after = "400 30 7:2 /rootfs / rw,noatime - ext4 /dev/loop2 rw,discard,resv_strict,errors=remount-ro\n"
            + Self.proc.replacingOccurrences(of: "101 100", with: "401 400")
        #expect(try differences(before, after) == [])
    }

    @Test func overlayLayerPathsAndDerivedOptionsAreTheHosts() throws {
        let before = "100 50 0:60 / / rw - overlay overlay rw,lowerdir=/a/t,upperdir=/a/u,workdir=/a/w,uuid=null"
        let after = "200 50 0:61 / / rw - overlay overlay rw,lowerdir=/b/t,upperdir=/b/u,workdir=/b/w,uuid=on,index=off"
        #expect(try differences(before, after) == [])
    }

    /// A `--bind` whose source moved to another host filesystem (`--bind-source`).
    @Test func aBindSourcesFilesystemIsTheHosts() throws {
        let before = "100 50 8:1 /c/rootfs / rw - ext4 /dev/sda1 rw\n105 100 8:1 /srv/secrets /run/secrets ro,relatime - ext4 /dev/sda1 rw"
        let after = "100 50 8:1 /c/rootfs / rw - ext4 /dev/sda1 rw\n105 100 0:90 /moved/secrets /run/secrets ro,nosuid - tmpfs tmpfs rw,size=1024k"
        #expect(try differences(before, after, binds: ["/run/secrets"]) == [])
    }

    @Test func aBindsReadOnlyFlagIsTheContainers() throws {
        let before = "100 50 8:1 /c/rootfs / rw - ext4 /dev/sda1 rw\n105 100 8:1 /srv/secrets /run/secrets ro - ext4 /dev/sda1 rw"
        let after = before.replacingOccurrences(of: "/run/secrets ro", with: "/run/secrets rw")
        #expect(try differences(before, after, binds: ["/run/secrets"]) == ["namespace 1 (pids 1): /run/secrets: mount options expected ro, found rw"])
    }

    /// A bind of a `--bind` made inside the container keeps pointing at the same place
    /// inside the bind's source, wherever that source is on the host.
    @Test func aCopyOfABindIsComparedRelativeToTheBind() throws {
        let before = "100 50 8:1 /c/rootfs / rw - ext4 /dev/sda1 rw\n105 100 8:1 /srv/d /run/d rw - ext4 /dev/sda1 rw\n106 100 8:1 /srv/d/sub /mnt/sub rw - ext4 /dev/sda1 rw"
        let moved = "100 50 8:1 /c/rootfs / rw - ext4 /dev/sda1 rw\n105 100 8:2 /new/d /run/d rw - ext4 /dev/sdb1 rw\n106 100 8:2 /new/d/sub /mnt/sub rw - ext4 /dev/sdb1 rw"
        #expect(try differences(before, moved, binds: ["/run/d"]) == [])
        let wrong = moved.replacingOccurrences(of: "/new/d/sub /mnt/sub", with: "/new/d/other /mnt/sub")
        #expect(try differences(before, wrong, binds: ["/run/d"]) == ["namespace 1 (pids 1): /mnt/sub: root expected <bind /run/d>/sub, found <bind /run/d>/other"])
    }

    @Test func autofsPipeAndProcessGroupAreTheHosts() throws {
        let before = "100 50 8:1 /c/rootfs / rw - ext4 /dev/sda1 rw\n107 100 0:50 / /auto rw - autofs /etc/auto.x rw,fd=6,pgrp=120,timeout=300,minproto=5,maxproto=5,indirect,pipe_ino=4711"
        let after = before.replacingOccurrences(of: "fd=6,pgrp=120", with: "fd=9,pgrp=833").replacingOccurrences(of: "pipe_ino=4711", with: "pipe_ino=99")
        #expect(try differences(before, after) == [])
        let otherTimeout = before.replacingOccurrences(of: "timeout=300", with: "timeout=5")
        #expect(try differences(before, otherTimeout).count == 1)
    }

    @Test func aTmpfsSizeIsTheContainers() throws {
        let before = "100 50 8:1 /c/rootfs / rw - ext4 /dev/sda1 rw\n102 100 0:41 / /t rw - tmpfs t rw,size=1024k"
        let after = before.replacingOccurrences(of: "size=1024k", with: "size=2048k")
        #expect(try differences(before, after) == ["namespace 1 (pids 1): /t: superblock options expected rw,size=1024k, found rw,size=2048k"])
    }
}

extension EquivalenceRuleTests {
    /// A cgroup hierarchy mounted inside shows its root as a path in the host's cgroup
    /// tree: the container's cgroup is named after the state root on each host.
    @Test func theContainersCgroupPathIsTheHosts() throws {
        let mounts = "100 50 8:1 /c/rootfs / rw - ext4 /dev/sda1 rw\n110 100 0:30 /ferry/rA/web /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory"
        func capture(_ text: String, cgroup: String) throws -> MountTreeCapture {
            MountTreeCapture(
                hostRoot: "/x", namespaces: [MountNamespaceCapture(inode: 1, containerPids: [1], mounts: try MountInfoParser.parse(text))],
                cgroupPath: cgroup)
        }
        let before = try capture(mounts, cgroup: "/ferry/rA/web")
        let after = try capture(mounts.replacingOccurrences(of: "/ferry/rA/web", with: "/ferry/rB/web"), cgroup: "/ferry/rB/web")
        #expect(MountTreeDiff.lines(expected: before, actual: after) == [])
        let elsewhere = try capture(mounts.replacingOccurrences(of: "/ferry/rA/web", with: "/ferry/rB/web/sub"), cgroup: "/ferry/rB/web")
        #expect(MountTreeDiff.lines(expected: before, actual: elsewhere).count == 1)
    }
}
