import Foundation
import GRDB

/// A service's own SQLite file: WAL (one writer, concurrent readers), migrations, and the
/// runtime's inbox and outbox tables next to the service's.
public final class ServiceStore: Sendable {
    public let database: DatabasePool
    public let path: String

    /// Opens (creating if needed) and migrates the store. `migrations` registers the service's
    /// own migrations after the runtime's.
    public init(path: String, synchronous: ServiceConfiguration.Synchronous = .full, migrations: (inout DatabaseMigrator) -> Void = { _ in }) throws {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous == .full ? "FULL" : "NORMAL")")
            try db.execute(sql: "PRAGMA foreign_keys = ON")
        }
        database = try DatabasePool(path: path, configuration: configuration)
        self.path = path
        var migrator = DatabaseMigrator()
        Self.registerRuntimeMigrations(&migrator)
        migrations(&migrator)
        try migrator.migrate(database)
    }

    private static func registerRuntimeMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("runtime-1") { db in
            try db.execute(sql: """
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
    }

    /// Whether a write transaction can be taken now (for readiness).
    public func isWritable() async -> Bool {
        do {
            try await database.write { db in try db.execute(sql: "CREATE TEMP TABLE IF NOT EXISTS health_probe(x); DELETE FROM health_probe") }
            return true
        } catch {
            return false
        }
    }

    /// Messages written to the outbox and not yet confirmed by the broker.
    public func outboxBacklog() async throws -> Int {
        try await database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL") ?? 0 }
    }
}
