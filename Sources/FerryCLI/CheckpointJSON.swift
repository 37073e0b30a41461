import FerryCRIU
import FerryCheckpoint

/// `ferry checkpoint --json` (`checkpoint` in docs/json/ferry.schema.json): CRIU's
/// measurements in seconds and bytes (its images count microseconds and pages).
struct CheckpointJSON: Encodable {
    let result: Checkpointer.Result

    private enum CodingKeys: String, CodingKey {
        case directory, mounts, namespaces, totalSeconds, freezingSeconds, frozenSeconds, memoryDumpSeconds, memoryWriteSeconds
        case bytesScanned, bytesWritten, bytesLazy
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        let stats = result.stats
        try container.encode(result.directory, forKey: .directory)
        try container.encode(result.mounts, forKey: .mounts)
        try container.encode(result.namespaces, forKey: .namespaces)
        try container.encode(result.totalSeconds, forKey: .totalSeconds)
        try container.encode(CRIUStats.seconds(stats.freezingTime), forKey: .freezingSeconds)
        try container.encode(CRIUStats.seconds(stats.frozenTime), forKey: .frozenSeconds)
        try container.encode(CRIUStats.seconds(stats.memdumpTime), forKey: .memoryDumpSeconds)
        try container.encode(CRIUStats.seconds(stats.memwriteTime), forKey: .memoryWriteSeconds)
        try container.encode(stats.bytesScanned, forKey: .bytesScanned)
        try container.encode(stats.bytesWritten, forKey: .bytesWritten)
        try container.encode(stats.bytesLazy, forKey: .bytesLazy)
    }
}

/// `ferry restore --json` (`restore` in docs/json/ferry.schema.json).
struct RestoreJSON: Encodable {
    let result: Restorer.Result

    private enum CodingKeys: String, CodingKey {
        case pid, mounts, namespaces, totalSeconds, forkingSeconds, restoreSeconds, bytesRestored
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        let stats = result.stats
        try container.encode(result.pid, forKey: .pid)
        try container.encode(result.mounts, forKey: .mounts)
        try container.encode(result.namespaces, forKey: .namespaces)
        try container.encode(result.totalSeconds, forKey: .totalSeconds)
        try container.encode(CRIUStats.seconds(stats.forkingTime), forKey: .forkingSeconds)
        try container.encode(CRIUStats.seconds(stats.restoreTime), forKey: .restoreSeconds)
        try container.encode(stats.bytesRestored, forKey: .bytesRestored)
    }
}

/// `ferry checkpoint --export FILE --json` (`export`): the archive and the checkpoint in it.
struct ExportJSON: Encodable {
    let result: Checkpointer.ExportResult

    private enum CodingKeys: String, CodingKey { case file, bytes, totalSeconds, checkpoint }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(result.file, forKey: .file)
        try container.encode(Int(clamping: result.bytes), forKey: .bytes)
        try container.encode(result.totalSeconds, forKey: .totalSeconds)
        try container.encode(CheckpointJSON(result: result.checkpoint), forKey: .checkpoint)
    }
}

/// `ferry restore --import FILE --json` (`import`): the name it got here and the restore.
struct ImportJSON: Encodable {
    let result: Restorer.ImportResult

    private enum CodingKeys: String, CodingKey { case name, restore }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(result.name, forKey: .name)
        try container.encode(RestoreJSON(result: result.restore), forKey: .restore)
    }
}
