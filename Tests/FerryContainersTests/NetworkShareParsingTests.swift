import FerryContainers
import FerryErrors
import Testing

/// `--share type=…,source=…,target=…[,ssh-config=FILE][,options=REST]`.
@Suite struct NetworkShareParsingTests {
    @Test func optionsTakeTheRestCommasIncluded() throws {
        let share = try NetworkShare(parsing: "type=nfs4,source=files:/export/home,target=/home,options=vers=4.2,hard,noatime")
        #expect(share == NetworkShare(type: .nfs4, source: "files:/export/home", target: "/home", options: "vers=4.2,hard,noatime"))
    }

    @Test func sshfsWithItsSSHConfig() throws {
        let share = try NetworkShare(parsing: "type=sshfs,source=root@h3:/srv/data,target=/data,ssh-config=/etc/hostname")
        #expect(share.type == .sshfs && share.sshConfig == "/etc/hostname" && share.options == nil)
        #expect(share.type.mountInfoType == "fuse.sshfs")
    }

    @Test(arguments: [
        ("source=h:/x,target=/x", "no type"),
        ("type=smb,source=h:/x,target=/x", "unknown type 'smb'"),
        ("type=nfs,target=/x", "no source"),
        ("type=nfs,source=h:/x,target=x", "absolute path"),
        ("type=nfs,source=h:/x,target=/", "absolute path"),
        ("type=nfs,source=h:x,target=/x", "absolute export path"),
        ("type=nfs,source=nohost,target=/x", "not HOST:PATH"),
        ("type=nfs,source=h:/x,target=/x,colour=blue", "unknown key 'colour'"),
        ("type=nfs,source=h:/x,type=nfs,target=/x", "'type' is given twice"),
        ("type=nfs,source=h:/x,target=/x,ssh-config=/etc/hostname", "for type=sshfs only"),
        ("type=sshfs,source=h:/x,target=/x,ssh-config=/nonexistent/cfg", "cannot be read"),
        ("type=sshfs,source=h:/x,target=/a/../b", "must not contain"),
        ("type=sshfs,source=h:/x,target", "not KEY=VALUE"),
    ])
    func badSpecsNameWhatIsWrong(_ text: String, _ expected: String) {
        do {
            _ = try NetworkShare(parsing: text)
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.message.contains(expected), "\(text): \(error.message)")
        }
    }

    @Test func nfsMountsWithTheRecordedSourceAndOptions() throws {
        let share = try NetworkShare(parsing: "type=nfs,source=files:/export,target=/srv,options=vers=3")
        #expect(share.type.isNFS)
        #expect(share.summary == "nfs files:/export at /srv")
    }
}
