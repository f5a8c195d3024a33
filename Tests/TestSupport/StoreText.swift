import Foundation
import GRDB

/// Every value of every table of a store as one text, to check what it holds (or no longer
/// holds) whatever the table or column.
public enum StoreText {
    public static func all(in db: Database) throws -> String {
        var text = ""
        for table in try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'") {
            for row in try Row.fetchAll(db, sql: "SELECT * FROM \"\(table)\"") {
                for value in row.databaseValues {
                    switch value.storage {
                    case .string(let string): text += string + "\n"
                    case .blob(let data): text += String(decoding: data, as: UTF8.self) + "\n"
                    default: break
                    }
                }
            }
        }
        return text
    }

    /// The files (a store, its -wal and -shm) that hold `marker`'s bytes.
    public static func filesContain(_ paths: [String], _ marker: String) -> [String] {
        filesContain(paths, bytes: Data(marker.utf8))
    }

    /// The files that hold `bytes`.
    public static func filesContain(_ paths: [String], bytes: Data) -> [String] {
        paths.filter { path in
            guard let data = FileManager.default.contents(atPath: path) else { return false }
            return data.range(of: bytes) != nil
        }
    }

    /// Every file under `directory`, at any depth.
    public static func files(under directory: String) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: directory) else { return [] }
        return walker.compactMap { $0 as? String }.map { "\(directory)/\($0)" }.filter { path in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
        }
    }
}
