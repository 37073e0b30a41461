import FerryErrors
import FerrySystem
import Foundation
import Glibc

/// Ferry's JSON files (config, run state, checkpoint manifest, migration journal): read with
/// errors that name the file, written to a temporary name and renamed, so a reader never
/// sees half a file.
public enum JSONFile {
    public static func read<T: Decodable>(_ type: T.Type, from path: String, what: String) throws(FerryError) -> T {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw FerryError(.notFound, "\(what) \(path) cannot be read", cause: .error(error))
        }
        return try decode(type, from: data, what: "\(what) \(path)")
    }

    /// The document a file would hold (what the agent protocol sends as a config).
    public static func encode<T: Encodable>(_ value: T) throws(FerryError) -> Data {
        do {
            return try encoder.encode(value)
        } catch {
            throw FerryError(.invalidArgument, "cannot encode \(T.self)", cause: .error(error))
        }
    }

    /// A document read from somewhere else than a file; `what` names it in the error.
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data, what: String) throws(FerryError) -> T {
        do {
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            return try decoder.decode(type, from: data)
        } catch {
            throw FerryError(.corrupt, "\(what) is corrupt", cause: .error(error))
        }
    }

    private static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }

    /// `durable`: fsync before the rename, for records that must survive a crash (the
    /// migration journal is written before the step it describes acts).
    public static func write<T: Encodable>(_ value: T, to path: String, durable: Bool = false) throws(FerryError) {
        let temporary = path + ".tmp"
        do {
            try encoder.encode(value).write(to: URL(fileURLWithPath: temporary))
        } catch {
            throw FerryError(.systemCallFailed, "cannot write \(path)", cause: .error(error))
        }
        if durable {
            let fd = try OwnedFileDescriptor.open(temporary, O_RDONLY)
            try syscall("fsync", path: temporary) { fsync(fd.rawValue) }
        }
        try syscall("rename", path: path) { rename(temporary, path) }
    }
}
