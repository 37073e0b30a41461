import FerryContainers
import Foundation
import Testing

@Suite struct ConsoleLogTests {
    @Test func lastBytesKeepsWholeLinesAsWritten() {
        let text = Array("one\ntwo\nthree\n".utf8)
        #expect(String(decoding: ConsoleLog.lastBytes(lines: 2, of: text), as: UTF8.self) == "two\nthree\n")
        #expect(String(decoding: ConsoleLog.lastBytes(lines: 9, of: text), as: UTF8.self) == "one\ntwo\nthree\n")
        #expect(ConsoleLog.lastBytes(lines: 0, of: text).isEmpty)
        // A last line still being written counts as one.
        let partial = Array("one\ntwo\nthr".utf8)
        #expect(String(decoding: ConsoleLog.lastBytes(lines: 1, of: partial), as: UTF8.self) == "thr")
        #expect(ConsoleLog.lastBytes(lines: 3, of: []).isEmpty)
    }

    @Test func theWriterRotatesAtTheLimitAndKeepsOnePreviousFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("console-log-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = ConsoleLog(directory: directory, limit: 10)
        let writer = try log.writer()
        for line in ["aaaa\n", "bbbb\n", "cccc\n", "dddd\n", "eeee\n"] { writer.append(Array(line.utf8)[...]) }
        // a+b filled the first file; c+d the next; e the current: a and b are gone.
        #expect(String(decoding: log.contents(), as: UTF8.self) == "cccc\ndddd\neeee\n")
        #expect(log.lastLines(2) == ["dddd", "eeee"])
        #expect((try FileManager.default.attributesOfItem(atPath: log.current)[.size] as? Int) == 5)
        // A new writer (the next monitor, after a restore) appends to what is there.
        try log.writer().append(Array("ffff\n".utf8)[...])
        #expect(log.lastLines(1) == ["ffff"])
    }

    @Test func theFollowerReadsOnAcrossARotationWithNothingLostOrRepeated() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("console-follow-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = ConsoleLog(directory: directory, limit: 10)
        let writer = try log.writer()
        writer.append(Array("aaaa\n".utf8)[...])
        // One line more at each look; the third starts a new file.
        let later = ["bbbb\n", "cccc\n", "dddd\n"]
        var looks = 0
        var shown: [UInt8] = []
        ConsoleLogFollower(log: log).run(
            tail: nil, emit: { shown += $0 },
            stop: {
                if looks < later.count { writer.append(Array(later[looks].utf8)[...]) }
                looks += 1
                return looks > later.count + 1
            })
        #expect(String(decoding: shown, as: UTF8.self) == "aaaa\nbbbb\ncccc\ndddd\n")
        #expect(access(log.previous, F_OK) == 0, "the log did not rotate")
    }

    @Test func outputCarriedWithImagesIsAdoptedOnlyWhereThereIsNone() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("console-carry-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: base) }
        for sub in ["source", "images", "target"] {
            try FileManager.default.createDirectory(atPath: "\(base)/\(sub)", withIntermediateDirectories: true)
        }
        let source = ConsoleLog(directory: "\(base)/source")
        try source.writer().append(Array("before\n".utf8)[...])
        try source.carry(into: "\(base)/images")
        let target = ConsoleLog(directory: "\(base)/target")
        try target.adopt(from: "\(base)/images")
        #expect(target.lastLines(5) == ["before"])
        // A container with output of its own keeps it.
        try target.writer().append(Array("after\n".utf8)[...])
        try target.adopt(from: "\(base)/images")
        #expect(target.lastLines(5) == ["before", "after"])
    }

    @Test func ctrlAThenQDetachesAndEverythingElseGoesThrough() {
        var keys = DetachKeys()
        #expect(keys.filter(Array("ls\n".utf8)[...]) == (Array("ls\n".utf8), false))
        // Split across reads.
        #expect(keys.filter([0x01][...]) == ([], false))
        #expect(keys.filter(Array("q rest".utf8)[...]) == ([], true))
        // Ctrl-a before anything else is passed on with it.
        var other = DetachKeys()
        #expect(other.filter([0x01, UInt8(ascii: "x"), 0x01, UInt8(ascii: "q")][...]) == ([0x01, UInt8(ascii: "x")], true))
    }
}
