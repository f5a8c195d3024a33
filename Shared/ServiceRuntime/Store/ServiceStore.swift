import Foundation
import GRDB
import Messages

/// A service's own SQLite file: WAL (one writer, concurrent readers), migrations, and the
/// runtime's inbox and outbox tables next to the service's.
public final class ServiceStore: Sendable {
    public let path: String
    private let configuration: Configuration
    private let pool: PoolBox

    /// The connections to the file. After a failure of the file itself (`probeWrite` found one),
    /// this is a new pool: ask for it each time rather than keeping it.
    public var database: DatabasePool { pool.current }

    /// Opens (creating if needed) and migrates the store. `migrations` registers the service's
    /// own migrations after the runtime's.
    public init(
        path: String, synchronous: ServiceConfiguration.Synchronous = .full, migrations: (inout DatabaseMigrator) -> Void = { _ in }
    ) throws {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous == .full ? "FULL" : "NORMAL")")
            try db.execute(sql: "PRAGMA foreign_keys = ON")
            // Deleted and overwritten content is zeroed on disk, so erased personal data does not
            // linger in free pages (`forget()` empties the write-ahead log as well).
            try db.execute(sql: "PRAGMA secure_delete = ON")
        }
        let database = try DatabasePool(path: path, configuration: configuration)
        self.configuration = configuration
        self.pool = PoolBox(database)
        self.path = path
        try Self.migrator(migrations).migrate(database)
    }

    /// Every migration of a store: the runtime's, then the service's (`migrations`).
    public static func migrator(_ migrations: (inout DatabaseMigrator) -> Void) -> DatabaseMigrator {
        var migrator = DatabaseMigrator()
        registerRuntimeMigrations(&migrator)
        registerSortableTimes(&migrator)
        APITokens.registerMigration(&migrator)
        // Erasure: messages about an erased registration, removed once the broker has them.
        migrator.registerMigration("runtime-6") { db in
            try db.execute(sql: "ALTER TABLE outbox ADD COLUMN erase_on_publish INTEGER NOT NULL DEFAULT 0")
        }
        // The trace each message is published in.
        migrator.registerMigration("runtime-7") { db in try db.execute(sql: "ALTER TABLE outbox ADD COLUMN trace TEXT") }
        // Registrations' data keys, for the messages whose personal fields are sealed.
        DataKeys.registerMigration(&migrator)
        // Messages the broker refused to take, held for a while (`Outbox.hold`).
        migrator.registerMigration("runtime-9") { db in
            try db.execute(sql: "ALTER TABLE outbox ADD COLUMN held_until TEXT; ALTER TABLE outbox ADD COLUMN held_reason TEXT")
        }
        migrations(&migrator)
        return migrator
    }

    private static func registerRuntimeMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("runtime-1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE inbox (
                        message_id TEXT PRIMARY KEY,
                        message_type TEXT NOT NULL,
                        received_at TEXT NOT NULL
                    );
                    CREATE TABLE outbox (
                        sequence INTEGER PRIMARY KEY AUTOINCREMENT,
                        message_id TEXT NOT NULL UNIQUE,
                        message_type TEXT NOT NULL,
                        correlation_id TEXT,
                        causation_id TEXT,
                        body BLOB NOT NULL,
                        created_at TEXT NOT NULL,
                        published_at TEXT
                    );
                    CREATE INDEX outbox_pending ON outbox(sequence) WHERE published_at IS NULL;
                    """)
        }
        // A digest of each applied body (a reused message id is noticed), the messages parked
        // (a redelivery or replay is not parked twice), and a row the readiness probe rewrites.
        migrator.registerMigration("runtime-2") { db in
            try db.execute(
                sql: """
                    ALTER TABLE inbox ADD COLUMN body_digest TEXT;
                    CREATE TABLE parked (
                        message_id TEXT NOT NULL,
                        body_digest TEXT NOT NULL,
                        message_type TEXT NOT NULL,
                        kind TEXT NOT NULL,
                        reason TEXT NOT NULL,
                        parked_at TEXT NOT NULL,
                        copied INTEGER NOT NULL CHECK (copied IN (0, 1)),
                        PRIMARY KEY (message_id, body_digest)
                    );
                    CREATE TABLE store_probe (
                        id INTEGER PRIMARY KEY CHECK (id = 1),
                        written_at TEXT NOT NULL
                    );
                    """)
        }
        // The partition keys of outgoing messages, from their payloads; rows written before are
        // given theirs by decoding them as their type.
        migrator.registerMigration("runtime-3") { db in
            try db.execute(
                sql: "ALTER TABLE outbox ADD COLUMN partition_event TEXT; ALTER TABLE outbox ADD COLUMN partition_recipient TEXT")
            for row in try Row.fetchAll(db, sql: "SELECT sequence, message_type, body FROM outbox WHERE published_at IS NULL") {
                let sequence: Int64 = row[0]
                guard let type = MessageType(rawValue: row[1]) else {
                    throw DatabaseError(message: "outbox row \(sequence) has an unknown message type '\(row[1] as String)'")
                }
                let keys = try Self.partitionKeys(type.payloadType, body: row[2])
                try db.execute(
                    sql: "UPDATE outbox SET partition_event = ?, partition_recipient = ? WHERE sequence = ?",
                    arguments: [keys.event, keys.recipient, sequence])
            }
        }
    }

    private static func registerSortableTimes(_ migrator: inout DatabaseMigrator) {
        // Times in one sortable form (`MessageCoding.formatSortable`): text order is time order.
        migrator.registerMigration("runtime-4") { db in
            try DatabaseMigrator.rewriteTimes(in: db, table: "inbox", key: "message_id", columns: ["received_at"])
            try DatabaseMigrator.rewriteTimes(in: db, table: "outbox", key: "sequence", columns: ["created_at", "published_at"])
        }
    }

    private static func partitionKeys<T: MessagePayload>(_ type: T.Type, body: Data) throws -> PartitionKeys {
        try MessageCoding.decode(type, from: body).partitionKeys
    }

    /// Whether the store file takes a committed write now: nil if it does, else why not. Writes
    /// one row of the store itself (a temporary table would not touch its disk).
    ///
    /// SQLite keeps a connection that hit a full disk or an I/O error in an error state until
    /// nothing holds its pages, which a pool's cached statements may never allow: when the probe
    /// fails, it tries once more on a new pool, and keeps that pool if it writes.
    public func probeWrite() async -> String? {
        guard let problem = await Self.probe(database) else { return nil }
        do {
            let fresh = try DatabasePool(path: path, configuration: configuration)
            guard await Self.probe(fresh) == nil else { return problem }
            pool.replace(with: fresh)
            return nil
        } catch {
            return problem
        }
    }

    private static func probe(_ database: DatabasePool) async -> String? {
        do {
            try await database.write { db in try StoreProbe(writtenAt: Date()).upsert(db) }
            return nil
        } catch {
            return StoreUnavailable.describe(error)
        }
    }

    /// After an erasure: copies everything into the database file and truncates the write-ahead
    /// log, whose old frames would otherwise keep the erased rows' former content until
    /// overwritten. Retried while readers hold old snapshots.
    public func forget() async throws {
        for attempt in 1...20 {
            let busy = try await database.writeWithoutTransaction { db -> Bool in
                try Int.fetchOne(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)") == 1
            }
            if !busy { return }
            try await Task.sleep(for: .milliseconds(50 * attempt))
        }
        throw DatabaseError(message: "the write-ahead log could not be truncated: readers kept it busy")
    }

    /// Messages written to the outbox and not yet confirmed by the broker.
    public func outboxBacklog() async throws -> Int {
        try await database.read { db in try Outbox.backlog(in: db).count }
    }
}

/// The store cannot commit at all (disk full, I/O error, a read-only or locked file): no
/// message can be applied until that changes, so the pipeline pauses instead of retrying or
/// parking messages that are not at fault.
public struct StoreUnavailable: Error, Sendable, CustomStringConvertible {
    public let description: String

    /// Whether `error` is one of SQLite's "the file cannot take this write" results, rather than
    /// something about the data (a constraint, a bad row).
    public static func classify(_ error: any Error) -> StoreUnavailable? {
        guard let error = error as? DatabaseError else { return nil }
        let unavailable: [ResultCode] = [
            .SQLITE_FULL, .SQLITE_IOERR, .SQLITE_READONLY, .SQLITE_CANTOPEN, .SQLITE_BUSY, .SQLITE_LOCKED, .SQLITE_NOMEM,
            .SQLITE_CORRUPT, .SQLITE_NOTADB, .SQLITE_PROTOCOL,
        ]
        guard unavailable.contains(error.resultCode.primaryResultCode) else { return nil }
        return StoreUnavailable(description: describe(error))
    }

    /// A short reason for logs and readiness: SQLite's own words for the result code.
    static func describe(_ error: any Error) -> String {
        guard let error = error as? DatabaseError else { return "\(error)" }
        return "\(error.resultCode) (\(error.message ?? "no message"))"
    }
}

/// The store's current pool, replaced after the file failed. A lock guards the one reference
/// (`@unchecked Sendable` is safe: every access goes through the lock, and a pool is itself
/// safe to use from any thread).
private final class PoolBox: @unchecked Sendable {
    private let lock = NSLock()
    private var pool: DatabasePool

    init(_ pool: DatabasePool) { self.pool = pool }

    var current: DatabasePool {
        lock.lock()
        defer { lock.unlock() }
        return pool
    }

    func replace(with fresh: DatabasePool) {
        lock.lock()
        pool = fresh
        lock.unlock()
    }
}
