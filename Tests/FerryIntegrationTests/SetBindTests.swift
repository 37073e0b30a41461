import Foundation
import Testing

extension Integration {
    /// `ferry set --bind/--unbind` on a stopped container: checked as `create --bind` is,
    /// refused while it runs (naming the fix) and while an unrestored checkpoint holds the
    /// old binds; each refusal changes nothing.
    @Suite struct SetBind {
        @Test func bindsChangeWhileStoppedAndShowAfterTheStart() throws {
            let scratch = try Scratch("setbind")
            defer { scratch.cleanUp() }
            let ferry = scratch.ferry
            let rootfs = try Rootfs.busybox(in: scratch)
            let data = scratch.path("data")
            let other = scratch.path("other")
            for (directory, word) in [(data, "hello-from-host"), (other, "second")] {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                try "\(word)\n".write(toFile: directory + "/greeting", atomically: true, encoding: .utf8)
            }
            try ferry.ok(["create", "b", "--rootfs", rootfs, "--bind", "\(other):/other", "--", "/bin/sh", "-c", "while true; do sleep 1; done"])
            try ferry.ok(["set", "b", "--bind", "\(data):/srv/data:ro", "--unbind", "/other"])
            let status = try ferry.ok(["status", "b"]).stdout
            #expect(status.contains("bind:    \(data) -> /srv/data (ro)") && !status.contains("/other"), "\(status)")

            try ferry.ok(["start", "b"])
            #expect(try ferry.read("b", "/srv/data/greeting") == "hello-from-host")
            #expect(!(try ferry.run(["exec", "b", "--", "touch", "/srv/data/x"]).succeeded), "a read-only bind took a write")
            #expect(!(try ferry.run(["exec", "b", "--", "test", "-e", "/other/greeting"]).succeeded), "the removed bind is still there")

            // Refusals, each one line naming the value or the fix, each changing nothing.
            let before = try String(contentsOfFile: scratch.stateRoot + "/containers/b/config.json", encoding: .utf8)
            let running = try ferry.run(["set", "b", "--bind", "\(other):/other"])
            #expect(!running.succeeded && running.stderr.contains("'ferry stop b'"), "\(running.stderr)")
            try ferry.ok(["stop", "b", "--timeout", "0"])
            let refusals: [(arguments: [String], mentions: String)] = [
                (["set", "b", "--bind", scratch.path("nope") + ":/x"], scratch.path("nope")),
                (["set", "b", "--bind", "relative:/x"], "relative"),
                (["set", "b", "--bind", "\(other):x"], "not absolute"),
                (["set", "b", "--bind", "\(other):/srv/data/"], "/srv/data is the target of two"),
                (["set", "b", "--unbind", "/nothing"], "its binds: /srv/data"),
                (["set", "b", "--autostart", "maybe"], "maybe"),
            ]
            for (arguments, mention) in refusals {
                let result = try ferry.run(arguments)
                #expect(!result.succeeded && result.stderr.split(separator: "\n").count == 1 && result.stderr.contains(mention), "ferry \(arguments): \(result.stderr)")
                #expect(try String(contentsOfFile: scratch.stateRoot + "/containers/b/config.json", encoding: .utf8) == before, "ferry \(arguments) changed the config")
            }

            // A checkpoint waiting to be restored brings its binds back as dumped.
            try ferry.ok(["start", "b"])
            try ferry.ok(["checkpoint", "b"])
            let waiting = try ferry.run(["set", "b", "--unbind", "/srv/data"])
            #expect(!waiting.succeeded && waiting.stderr.contains("ferry restore b"), "\(waiting.stderr)")
            try ferry.ok(["start", "b", "--fresh"])
            try ferry.ok(["stop", "b", "--timeout", "0"])
            // Moving a bind's source in one command: --unbind first, then --bind.
            try ferry.ok(["set", "b", "--unbind", "/srv/data", "--bind", "\(other):/srv/data"])
            try ferry.ok(["start", "b"])
            #expect(try ferry.read("b", "/srv/data/greeting") == "second")
        }
    }
}
