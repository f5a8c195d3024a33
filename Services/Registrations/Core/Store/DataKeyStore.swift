import Foundation
import GRDB
import Messages
import ServiceRuntime

/// Each registration's data key (contract 1.3), in a file of its own
/// (`REGISTRATIONS_KEY_STORE`): the archive keeps the registrations' messages sealed under these
/// keys, and a registrations store rebuilt from the archive reads them with this file. Erasure
/// deletes a key here (and in the consumers), after which no copy of the registration's
/// personal fields opens. A key is written in a transaction of its own before the message
/// transaction that uses it commits: a message rolled back leaves an unused key, never the
/// reverse. The file is in WAL mode (one fsync per new key); after an erasure its write-ahead
/// log is checkpointed and emptied, so that no file keeps the key.
public final class DataKeyStore: Sendable {
    private let queue: DatabaseQueue

    /// Opens (creating if needed) the key file at `path`.
    public init(path: String) throws {
        try FileManager.default.createDirectory(
            at: URL(fileURLWithPath: path).deletingLastPathComponent(), withIntermediateDirectories: true)
        queue = try DatabaseQueue(path: path, configuration: Self.configuration)
        try queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode = WAL") }
        try Self.migrator.migrate(queue)
    }

    /// Keys in memory only: for tests.
    public init() throws {
        queue = try DatabaseQueue(configuration: Self.configuration)
        try Self.migrator.migrate(queue)
    }

    private static var configuration: Configuration {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            // A forgotten key is zeroed in the file, not left in a free page.
            try db.execute(sql: "PRAGMA secure_delete = ON")
        }
        return configuration
    }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("keys-1") { db in
            // A row without a key: the registration was erased.
            try db.execute(
                sql: """
                    CREATE TABLE data_keys (
                        registration_id TEXT PRIMARY KEY,
                        event_id TEXT NOT NULL,
                        key BLOB,
                        created_at TEXT NOT NULL
                    );
                    CREATE INDEX data_keys_event ON data_keys(event_id);
                    """)
        }
        return migrator
    }

    /// (The table has the shape of the consumers' `data_keys`, read the same way.)
    public func state(_ registrationID: String) throws -> DataKeyState {
        try queue.read { db in try DataKeys.state(registrationID, in: db) }
    }

    /// The registration's key, made now if it has none, and when it was made; nil once erased.
    public func key(for registrationID: String, eventID: String, now: Date) throws -> (key: DataKey?, madeAt: Date) {
        let found = try queue.read { db in
            try Row.fetchOne(db, sql: "SELECT key, created_at FROM data_keys WHERE registration_id = ?", arguments: [registrationID])
        }
        if let found {
            let madeAt = MessageCoding.parse(found[1] as String) ?? now
            return ((found[0] as Data?).flatMap { DataKey(bytes: $0) }, madeAt)
        }
        let key = DataKey.generate()
        // At the precision the file keeps, so that every announcement of the key says the same.
        let madeAt = MessageCoding.parse(MessageCoding.formatSortable(now)) ?? now
        try queue.write { db in
            try db.execute(
                sql: "INSERT INTO data_keys (registration_id, event_id, key, created_at) VALUES (?, ?, ?, ?)",
                arguments: [registrationID, eventID, key.bytes, MessageCoding.formatSortable(madeAt)])
        }
        return (key, madeAt)
    }

    /// Erasure: the key is deleted; the row stays, so that the registration's messages read as
    /// erased and no new key is made for it.
    public func forget(_ registrationID: String, eventID: String, now: Date) throws {
        try queue.write { db in
            try db.execute(
                sql: """
                    INSERT INTO data_keys (registration_id, event_id, key, created_at) VALUES (?, ?, NULL, ?)
                    ON CONFLICT (registration_id) DO UPDATE SET key = NULL
                    """, arguments: [registrationID, eventID, MessageCoding.formatSortable(now)])
        }
        try forgetLog()
    }

    /// Copies what the write-ahead log holds into the file (where `secure_delete` has zeroed the
    /// forgotten keys) and empties the log.
    private func forgetLog() throws {
        try queue.writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
    }

    /// Merges the keys of another key file (a shard's, when re-sharding: a registration's
    /// records may now go to another shard). An erasure in either file wins. Returns how many
    /// rows were added or changed.
    @discardableResult
    public func importKeys(from path: String) throws -> Int {
        guard FileManager.default.fileExists(atPath: path) else { throw DataKeyStoreError.noSuchFile(path) }
        // Read as it is: the other file is not migrated or switched to WAL.
        var readOnly = Configuration()
        readOnly.readonly = true
        let rows = try DatabaseQueue(path: path, configuration: readOnly).read { db in
            try Row.fetchAll(db, sql: "SELECT registration_id, event_id, key, created_at FROM data_keys ORDER BY rowid")
        }
        let changed = try queue.write { db in
            var changed = 0
            for row in rows {
                try db.execute(
                    sql: """
                        INSERT INTO data_keys (registration_id, event_id, key, created_at) VALUES (?, ?, ?, ?)
                        ON CONFLICT (registration_id) DO UPDATE SET key = NULL WHERE excluded.key IS NULL AND data_keys.key IS NOT NULL
                        """, arguments: [row[0] as String, row[1] as String, row[2] as Data?, row[3] as String])
                changed += db.changesCount
            }
            return changed
        }
        try forgetLog()
        return changed
    }

    /// Every registration's key (nil: erased), of one event or all, in the order made.
    public func all(eventID: String?) throws -> [(registrationID: String, eventID: String, key: DataKey?)] {
        try queue.read { db in
            let rows =
                if let eventID {
                    try Row.fetchAll(
                        db, sql: "SELECT registration_id, event_id, key FROM data_keys WHERE event_id = ? ORDER BY rowid",
                        arguments: [eventID])
                } else {
                    try Row.fetchAll(db, sql: "SELECT registration_id, event_id, key FROM data_keys ORDER BY rowid")
                }
            return rows.map { row in (row[0], row[1], (row[2] as Data?).flatMap { DataKey(bytes: $0) }) }
        }
    }
}

public enum DataKeyStoreError: Error, CustomStringConvertible {
    case noSuchFile(String)

    public var description: String {
        switch self {
        case .noSuchFile(let path): "no key file at \(path)"
        }
    }
}
