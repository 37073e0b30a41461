import FerryErrors
import FerryMounts
import Testing

@Suite struct MountInfoParserTests {
    @Test func parsesSharedMountWithOptionalFields() throws {
        let line = "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 shared:7 - ext3 /dev/root rw,errors=continue"
        let mount = try MountInfoParser.parseLine(Substring(line))
        #expect(mount.id == 36)
        #expect(mount.parentID == 35)
        #expect(mount.device == "98:0")
        #expect(mount.root == "/mnt1")
        #expect(mount.mountPoint == "/mnt2")
        #expect(mount.mountOptions == ["rw", "noatime"])
        #expect(mount.propagation.sharedGroup == 7)
        #expect(mount.propagation.masterGroup == 1)
        #expect(!mount.propagation.unbindable)
        #expect(mount.fsType == "ext3")
        #expect(mount.source == "/dev/root")
        #expect(mount.superOptions == ["rw", "errors=continue"])
    }

    @Test func parsesPrivateAndUnbindable() throws {
        let mounts = try MountInfoParser.parse(
            """
            64 42 254:0 / / rw,relatime - ext4 /dev/vda rw
            65 64 0:40 / /proc rw,nosuid - proc proc rw
            66 64 0:41 / /u rw unbindable - tmpfs tmpfs rw
            67 64 0:42 / /p rw propagate_from:3 master:9 - tmpfs tmpfs rw

            """)
        #expect(mounts.count == 4)
        #expect(mounts[1].propagation.isPrivate)
        #expect(mounts[2].propagation.unbindable)
        #expect(mounts[3].propagation.propagateFrom == 3)
        #expect(mounts[3].propagation.masterGroup == 9)
    }

    @Test func unescapesOctalSequences() throws {
        let mount = try MountInfoParser.parseLine("70 64 0:45 /a\\040b /mnt/with\\040space\\011tab rw - tmpfs my\\134src rw")
        #expect(mount.root == "/a b")
        #expect(mount.mountPoint == "/mnt/with space\ttab")
        #expect(mount.source == "my\\src")
    }

    @Test func rejectsMalformedLines() {
        #expect(throws: FerryError.self) { try MountInfoParser.parseLine("not a mountinfo line") }
        #expect(throws: FerryError.self) { try MountInfoParser.parseLine("x 1 0:1 / / rw - tmpfs t rw") }
    }

    @Test func readsThisProcessMountTable() throws {
        let text = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
        let mounts = try MountInfoParser.parse(text)
        #expect(mounts.contains { $0.mountPoint == "/" })
    }
}

import Foundation
