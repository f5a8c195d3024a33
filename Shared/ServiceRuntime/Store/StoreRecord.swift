import Foundation
import GRDB
import Messages

/// A row of a service's table as a Codable GRDB record, stored the way every store here is:
/// times as sortable UTC text (`2026-01-13T07:00:00.000Z`: text order is time order), nested
/// values as the message contracts' JSON. A row the code cannot read (an unknown enum value, a
/// time that is not one, broken JSON) is an error naming its table, key and column, never a
/// default, and never its values (they may be personal data).
public protocol StoreRecord: Codable, FetchableRecord, PersistableRecord, Sendable {}

extension StoreRecord {
    public static func databaseDateDecodingStrategy(for column: String) -> DatabaseDateDecodingStrategy {
        .custom { value in String.fromDatabaseValue(value).flatMap(MessageCoding.parse) }
    }

    public static func databaseDateEncodingStrategy(for column: String) -> DatabaseDateEncodingStrategy {
        .custom { MessageCoding.formatSortable($0) }
    }

    public static func databaseJSONDecoder(for column: String) -> JSONDecoder { MessageCoding.decoder }

    public static func databaseJSONEncoder(for column: String) -> JSONEncoder { MessageCoding.encoder }

    /// The records `request` selects, each checked (`UnreadableRow`).
    public static func records(_ db: Database, _ request: QueryInterfaceRequest<Self>) throws -> [Self] {
        try Row.fetchAll(db, request.asRequest(of: Row.self)).map { try checked($0, db) }
    }

    /// The first record `request` selects, checked.
    public static func record(_ db: Database, _ request: QueryInterfaceRequest<Self>) throws -> Self? {
        try Row.fetchOne(db, request.asRequest(of: Row.self)).map { try checked($0, db) }
    }

    /// The records an SQL query selects, checked. The statement is prepared once per connection
    /// and kept (`sql` is a fixed text with `?` for its values).
    public static func records(_ db: Database, sql: String, arguments: StatementArguments = StatementArguments()) throws -> [Self] {
        try Row.fetchAll(db.cachedStatement(sql: sql), arguments: arguments).map { try checked($0, db) }
    }

    /// The record with this primary key, checked (a statement kept per table and connection).
    public static func record(_ db: Database, key: some DatabaseValueConvertible) throws -> Self? {
        let columns = try db.primaryKey(databaseTableName).columns
        guard columns.count == 1 else { return try record(db, filter(key: key)) }
        let statement = try db.cachedStatement(
            sql: "SELECT * FROM \(databaseTableName.quotedDatabaseIdentifier) WHERE \(columns[0].quotedDatabaseIdentifier) = ?")
        return try Row.fetchOne(statement, arguments: [key]).map { try checked($0, db) }
    }

    /// Inserts the row through a statement kept per connection (GRDB writes the SQL of an
    /// insert anew each time, which costs more than the insert itself for a small row). With
    /// `ignoringConflicts`, a row whose key is taken is left as it is. Returns whether a row
    /// was written. (No `didInsert`: the record does not learn a row id the table assigns.)
    @discardableResult
    public func insertKept(_ db: Database, ignoringConflicts: Bool = false) throws -> Bool {
        let (columns, values) = try Self.columns(of: self)
        try db.cachedStatement(
            sql: "INSERT \(ignoringConflicts ? "OR IGNORE " : "")INTO \(Self.databaseTableName.quotedDatabaseIdentifier) "
                + "(\(columns.map(\.quotedDatabaseIdentifier).joined(separator: ", "))) VALUES (\(databaseQuestionMarks(count: columns.count)))"
        ).execute(arguments: values)
        return db.changesCount > 0
    }

    /// Inserts the row, or sets every other column of the row it conflicts with (as GRDB's
    /// `upsert`), through a statement kept per connection.
    public func upsertKept(_ db: Database) throws {
        let (columns, values) = try Self.columns(of: self)
        let key = Set(try db.primaryKey(Self.databaseTableName).columns)
        let updates = columns.filter { !key.contains($0) }.map {
            "\($0.quotedDatabaseIdentifier) = excluded.\($0.quotedDatabaseIdentifier)"
        }
        try db.cachedStatement(
            sql: "INSERT INTO \(Self.databaseTableName.quotedDatabaseIdentifier) "
                + "(\(columns.map(\.quotedDatabaseIdentifier).joined(separator: ", "))) VALUES (\(databaseQuestionMarks(count: columns.count))) "
                + (updates.isEmpty ? "ON CONFLICT DO NOTHING" : "ON CONFLICT DO UPDATE SET \(updates.joined(separator: ", "))")
        ).execute(arguments: values)
    }

    /// The record's columns in a fixed order (so that the same set makes the same SQL) and values.
    private static func columns(of record: Self) throws -> ([String], StatementArguments) {
        let row = try record.databaseDictionary
        let columns = row.keys.sorted()
        return (columns, StatementArguments(columns.map { row[$0] }))
    }

    private static func checked(_ row: Row, _ db: Database) throws -> Self {
        do {
            return try Self(row: row)
        } catch {
            let key =
                (try? db.primaryKey(databaseTableName).columns)?.map { column in
                    row[column].map { "\($0)" } ?? "NULL"
                }.joined(separator: ", ") ?? "?"
            throw UnreadableRow(table: databaseTableName, key: key, error: error)
        }
    }
}

/// A row the code cannot read: which table, which row (its primary key) and which column; the
/// values are left out (they may be personal data).
public struct UnreadableRow: Error, Sendable, CustomStringConvertible {
    public let table: String
    public let key: String
    public let column: String?

    init(table: String, key: String, error: any Error) {
        self.table = table
        self.key = key
        if let decoding = error as? DecodingError {
            column = Self.codingPath(of: decoding).first?.stringValue
        } else {
            column = "\(error)".firstMatch(of: /column: "([^"]+)"/).map { String($0.1) }
        }
    }

    private static func codingPath(of error: DecodingError) -> [any CodingKey] {
        switch error {
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context): return context.codingPath
        case .keyNotFound(let key, let context): return context.codingPath + [key]
        @unknown default: return []
        }
    }

    public var description: String {
        "row \(key) of table \(table): \(column.map { "column \($0)" } ?? "a column") holds a value the code cannot read "
            + "(an unknown value, a time that is not one, or broken JSON)"
    }
}

extension DatabaseMigrator {
    /// Rewrites `columns` of `table` (times written as `MessageCoding.format` wrote them, which
    /// do not sort as time) in the sortable form; a value that is not a time stops the migration,
    /// naming its row.
    public static func rewriteTimes(in db: Database, table: String, key: String, columns: [String]) throws {
        for row in try Row.fetchAll(db, sql: "SELECT \(key), \(columns.joined(separator: ", ")) FROM \(table)") {
            let id: DatabaseValue = row[0]
            var values: [DatabaseValueConvertible?] = []
            for (index, column) in columns.enumerated() {
                guard let text: String = row[index + 1] else {
                    values.append(nil)
                    continue
                }
                guard let date = MessageCoding.parse(text) else {
                    throw DatabaseError(message: "row \(id) of table \(table): column \(column) holds '\(text)', which is not a time")
                }
                values.append(MessageCoding.formatSortable(date))
            }
            try db.execute(
                sql: "UPDATE \(table) SET \(columns.map { "\($0) = ?" }.joined(separator: ", ")) WHERE \(key) = ?",
                arguments: StatementArguments(values + [id]))
        }
    }
}
