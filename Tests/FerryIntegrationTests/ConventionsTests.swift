import FerrySystem
import Foundation
import Testing

extension Integration {
    /// Issue 14's conventions: global options before the subcommand, help with examples and
    /// without the internal commands, a manual page and a bash completion that scripts/setup
    /// makes from the command definitions.
    @Suite struct Conventions {
        /// The subcommands `ferry --help` shows, from the binary's own dump of its commands.
        static func visibleSubcommands() throws -> [String] {
            let dump = try Spawn.run([Ferry.executable, "--experimental-dump-help"], environment: Spawn.defaultEnvironment)
            let json = try #require(try JSONSerialization.jsonObject(with: Data(dump.stdout.utf8)) as? [String: Any])
            let command = try #require(json["command"] as? [String: Any])
            let subcommands = try #require(command["subcommands"] as? [[String: Any]])
            return subcommands.filter { $0["shouldDisplay"] as? Bool ?? true }.compactMap { $0["commandName"] as? String }
                .filter { $0 != "help" }
        }

        @Test func globalOptionsGoBeforeTheSubcommand() throws {
            let scratch = try Scratch("global-options")
            defer { scratch.cleanUp() }
            let rootfs = try Rootfs.busybox(in: scratch)
            let other = scratch.path("other-root")
            // FERRY_ROOT names the scratch root; --root before the subcommand wins over it.
            try scratch.ferry.ok(["--root", other, "create", "elsewhere", "--rootfs", rootfs])
            #expect(FileManager.default.fileExists(atPath: other + "/containers/elsewhere"))
            #expect(!FileManager.default.fileExists(atPath: scratch.stateRoot + "/containers/elsewhere"))
            #expect(try scratch.ferry.ok(["--root", other, "list"]).stdout.contains("elsewhere"))
            #expect(try scratch.ferry.ok(["list", "--root", other]).stdout.contains("elsewhere"))
            #expect(try !scratch.ferry.ok(["list"]).stdout.contains("elsewhere"))
            // --verbose before the subcommand shows the cause chain of an error.
            try "garbage".write(toFile: other + "/containers/elsewhere/run.json", atomically: true, encoding: .utf8)
            let quiet = try scratch.ferry.run(["--root", other, "start", "elsewhere"])
            #expect(!quiet.succeeded && !quiet.stderr.contains("caused by"), "\(quiet.stderr)")
            let verbose = try scratch.ferry.run(["--root", other, "-v", "start", "elsewhere"])
            #expect(!verbose.succeeded && verbose.stderr.contains("caused by"), "\(verbose.stderr)")
        }

        @Test func helpHidesInternalCommandsAndShowsExamples() throws {
            let scratch = try Scratch("help")
            defer { scratch.cleanUp() }
            let version = try scratch.ferry.ok(["--version"]).stdout
            #expect(version.hasPrefix("ferry ") && version.contains("agent protocol"), "\(version)")
            let help = try scratch.ferry.ok(["--help"]).stdout
            for hidden in ["agent", "demo", "__monitor", "__placeholder", "__share-return"] {
                #expect(!help.contains("\n  \(hidden) "), "ferry --help shows \(hidden)")
            }
            let visible = try Self.visibleSubcommands()
            #expect(visible.count >= 15, "\(visible)")
            for name in visible {
                #expect(help.contains("\n  \(name) "), "ferry --help does not show \(name)")
                let own = try scratch.ferry.ok([name, "--help"]).stdout
                #expect(own.contains("Examples:\n  ferry \(name)") || own.contains("Examples:\n  ferry --root"), "ferry \(name) --help has no example:\n\(own)")
            }
        }

        /// scripts/setup installs the page; it must name every subcommand the binary shows.
        @Test func manualPageNamesEverySubcommand() throws {
            let page = "/usr/local/share/man/man1/ferry.1"
            let text = try #require(try? String(contentsOfFile: page, encoding: .utf8), "\(page) is missing: run scripts/setup")
            for name in try Self.visibleSubcommands() {
                #expect(text.contains(".It Em \(name)\n"), "\(page) has no entry for ferry \(name)")
            }
            let rendered = try Spawn.run(["man", "-l", "-P", "cat", page], environment: Spawn.defaultEnvironment + ["MANWIDTH=100"])
            #expect(rendered.status == 0, "\(rendered.stderr)")
            #expect(rendered.stdout.contains("Run Linux system containers"), "\(rendered.stdout.prefix(400))")
        }

        /// The installed completion, driven as bash drives it on a TAB: COMP_WORDS and
        /// COMP_CWORD set, the function called with the command, the word and the one before.
        @Test func bashCompletionOffersContainerNamesAndValues() throws {
            let script = "/usr/local/share/bash-completion/completions/ferry"
            #expect(FileManager.default.fileExists(atPath: script), "\(script) is missing: run scripts/setup")
            let scratch = try Scratch("completion")
            defer { scratch.cleanUp() }
            let rootfs = try Rootfs.busybox(in: scratch)
            try scratch.ferry.ok(["create", "web1", "--rootfs", rootfs])
            try scratch.ferry.ok(["create", "db2", "--rootfs", rootfs])

            func complete(_ words: [String], environment: [String] = []) throws -> [String] {
                let driver = """
                    source "$1"; shift
                    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
                    COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
                    _ferry ferry "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
                    printf '%s\\n' "${COMPREPLY[@]}"
                    """
                let output = try Spawn.run(
                    ["bash", "-c", driver, "bash", script, Ferry.executable] + words,
                    environment: Spawn.defaultEnvironment + environment)
                #expect(output.status == 0, "\(output.stderr)")
                return output.stdout.split(separator: "\n").map(String.init).sorted()
            }
            let root = ["FERRY_ROOT=\(scratch.stateRoot)"]
            #expect(try complete(["start", ""], environment: root) == ["db2", "web1"])
            #expect(try complete(["stop", "w"], environment: root) == ["web1"])
            // The root the command line names, not $FERRY_ROOT's.
            #expect(try complete(["--root", scratch.stateRoot, "status", ""]) == ["db2", "web1"])
            #expect(try complete(["--root", scratch.path("empty"), "status", ""], environment: root) == [])
            #expect(try complete(["create", "x", "--storage", ""]) == ["insulated", "shared"])
            // Paths: directories for --from.
            try FileManager.default.createDirectory(atPath: scratch.path("images-a"), withIntermediateDirectories: true)
            #expect(try complete(["restore", "web1", "--from", scratch.path("images-")]) == [scratch.path("images-a")])
        }
    }
}
