import FerryContainers
import FerryErrors
import Testing

@Suite struct ContainerNameTests {
    @Test(arguments: ["web1", "db_2", "a.b-c", "X"])
    func acceptsPlainNames(_ name: String) throws {
        #expect(try ContainerName(name).value == name)
    }

    @Test(arguments: ["", "a/b", "..", ".", ".hidden", "tab\tname", "new\nline", "sp ace", "ü", String(repeating: "x", count: 65)])
    func refusesUnsafeNames(_ name: String) {
        #expect(throws: FerryError.self) { try ContainerName(name) }
    }

    @Test func errorNamesTheOffendingName() {
        do {
            _ = try ContainerName("a/b")
            Issue.record("accepted a/b")
        } catch {
            #expect(error.message.contains("a/b"))
            #expect(error.code == .invalidArgument)
        }
    }
}

@Suite struct BindMountParsingTests {
    @Test func parsesReadOnlyBind() throws {
        let bind = try BindMount(parsing: "/srv/secrets:/run/secrets:ro")
        #expect(bind == BindMount(source: "/srv/secrets", destination: "/run/secrets", readOnly: true))
    }

    @Test func defaultsToReadWrite() throws {
        #expect(try BindMount(parsing: "/etc/resolv.conf:/etc/resolv.conf").readOnly == false)
    }

    @Test(arguments: ["/a", "relative:/b", "/a:/b:rx", "/a::ro", ":/b"])
    func refusesMalformedBinds(_ text: String) {
        #expect(throws: FerryError.self) { try BindMount(parsing: text) }
    }
}

@Suite struct ByteSizeTests {
    @Test func parsesUnits() throws {
        #expect(try ByteSize.bytes("512M") == 512 << 20)
        #expect(try ByteSize.bytes("2G") == 2 << 30)
        #expect(try ByteSize.bytes("1GiB") == 1 << 30)
        #expect(try ByteSize.bytes("4096") == 4096)
        #expect(try ByteSize.bytes("64k") == 64 << 10)
    }

    @Test(arguments: ["", "M", "-1G", "1.5G", "0", "99999999999T"])
    func refusesNonsense(_ text: String) {
        #expect(throws: FerryError.self) { try ByteSize.bytes(text) }
    }
}
