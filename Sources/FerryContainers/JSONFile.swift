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
        do {
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            return try decoder.decode(type, from: data)
        } catch {
            throw FerryError(.corrupt, "\(what) \(path) is corrupt", cause: .error(error))
        }
    }

    /// `durable`: fsync before the rename, for records that must survive a crash (the
    /// migration journal is written before the step it describes acts).
    public static func write<T: Encodable>(_ value: T, to path: String, durable: Bool = false) throws(FerryError) {
        let temporary = path + ".tmp"
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.dateEncodingStrategy = .iso8601
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
