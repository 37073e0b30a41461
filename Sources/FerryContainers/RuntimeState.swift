import FerryErrors
import FerrySystem
import Foundation

/// What a running container leaves in `run.json`: its init and monitor, each with its
/// start time so a recycled pid is never taken for them.
public struct RuntimeState: Sendable, Codable, Equatable {
    public var initPid: Int32
    public var initStartTime: UInt64
    public var monitorPid: Int32
    public var monitorStartTime: UInt64
    public var rootfs: String
    public var cgroup: String
    public var startedAt: Date

    /// True when the recorded init still exists and is the same process.
    public var initAlive: Bool {
        ProcFS.startTime(of: initPid) == initStartTime
    }

    public var monitorAlive: Bool {
        ProcFS.startTime(of: monitorPid) == monitorStartTime
    }
}

/// The state a container is in, as `ferry list` shows it.
public enum ContainerStatus: String, Sendable, Codable {
    case running
    case stopped
    /// run.json names an init that is gone, and no monitor cleaned up after it.
    case crashed
}

enum JSONFile {
    static func read<T: Decodable>(_ type: T.Type, from path: String, what: String) throws(FerryError) -> T {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw FerryError(.notFound, "\(what) \(path) cannot be read", cause: .error(error))
        }
        do {
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            return try decoder.decode(type, from: data)
        } catch {
            throw FerryError(.corrupt, "\(what) \(path) is corrupt", cause: .error(error))
        }
    }

    static func write<T: Encodable>(_ value: T, to path: String) throws(FerryError) {
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.dateEncodingStrategy = .iso8601
            let data = try encoder.encode(value)
            // Write then rename: a reader never sees half a file.
            let temporary = path + ".tmp"
            try data.write(to: URL(fileURLWithPath: temporary))
            guard rename(temporary, path) == 0 else {
                throw FerryError.system("rename", .init(rawValue: errno), path: path)
            }
        } catch let error as FerryError {
            throw error
        } catch {
            throw FerryError(.systemCallFailed, "cannot write \(path)", cause: .error(error))
        }
    }
}
