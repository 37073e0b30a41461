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
        #expect(try ByteSize.bytes("512M", option: "--image", atLeast: 1) == 512 << 20)
        #expect(try ByteSize.bytes("2G", option: "--image", atLeast: 1) == 2 << 30)
        #expect(try ByteSize.bytes("1GiB", option: "--image", atLeast: 1) == 1 << 30)
        #expect(try ByteSize.bytes("4096", option: "--image", atLeast: 1) == 4096)
        #expect(try ByteSize.bytes("64k", option: "--image", atLeast: 1) == 64 << 10)
    }

    @Test(arguments: ["", "M", "-1G", "1.5G", "99999999999T", "١٢M"])
    func refusesNonsense(_ text: String) {
        #expect(throws: FerryError.self) { try ByteSize.bytes(text, option: "--image", atLeast: 1) }
    }

    /// Zero is a size, only too small: the message says so and names the least one.
    @Test(arguments: ["0", "0M", "1K", "15M"])
    func refusesTooSmallWithTheLeast(_ text: String) {
        #expect {
            try ByteSize.bytes(text, option: "--image", atLeast: 16 << 20)
        } throws: { error in
            let message = (error as? FerryError)?.message ?? ""
            return message == "--image \(text) is too small; give at least 16M (e.g. --image 512M)"
        }
    }

    @Test func describesInTheLargestWholeUnit() {
        #expect(ByteSize.describe(16 << 20) == "16M")
        #expect(ByteSize.describe(3 << 30) == "3G")
        #expect(ByteSize.describe(1536) == "1536")
        #expect(ByteSize.describe(0) == "0")
    }
}

@Suite struct EnvironmentAssignmentTests {
    @Test(arguments: ["K=V", "K=", "PATH=/bin:/usr/bin", "A=b=c"])
    func keepsAssignments(_ text: String) throws {
        #expect(try EnvironmentAssignment.validated(text) == text)
    }

    @Test func bareNameNamesItAndTheFix() {
        #expect {
            try EnvironmentAssignment.validated("TOKEN")
        } throws: { error in
            (error as? FerryError)?.message == "--env TOKEN has no value; write --env TOKEN=VALUE"
        }
    }

    @Test func emptyNameIsRefused() {
        #expect(throws: FerryError.self) { try EnvironmentAssignment.validated("=v") }
    }
}

@Suite struct StateRootValidationTests {
    @Test func refusesARelativeRoot() {
        #expect {
            try StateRoot(path: "var/lib/ferry").validate()
        } throws: { error in
            let message = (error as? FerryError)?.message ?? ""
            return message.contains("'var/lib/ferry'") && message.contains("--root /var/lib/ferry")
        }
    }

    @Test func refusesAFile() {
        #expect(throws: FerryError.self) { try StateRoot(path: "/proc/self/status").validate() }
    }

    @Test(arguments: ["/", "/nonexistent/ferry-root"])
    func acceptsADirectoryOrAPathNotThereYet(_ path: String) throws {
        try StateRoot(path: path).validate()
    }
}
