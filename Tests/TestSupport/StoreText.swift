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

    /// Whether any of the files (a store, its -wal and -shm) holds `marker`'s bytes.
    public static func filesContain(_ paths: [String], _ marker: String) -> [String] {
        paths.filter { path in
            guard let data = FileManager.default.contents(atPath: path) else { return false }
            return data.range(of: Data(marker.utf8)) != nil
        }
    }
}
