import Foundation
import GRDB
import Messages
import ServiceRuntime

/// The registrations service's tables and queries (run inside the pipeline's transaction).
public enum RegistrationStore {
    public static func migrate(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("registrations-1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE events (
                        event_id TEXT PRIMARY KEY,
                        programme_version INTEGER NOT NULL,
                        capacity_organisations INTEGER NOT NULL,
                        capacity_delegates INTEGER NOT NULL,
                        registration_deadline TEXT,
                        site_visits TEXT NOT NULL
                    );
                    CREATE TABLE registrations (
                        registration_id TEXT PRIMARY KEY,
                        event_id TEXT NOT NULL,
                        reference TEXT NOT NULL,
                        revision INTEGER NOT NULL,
                        status TEXT NOT NULL,
                        organisation TEXT NOT NULL,
                        delegate_count INTEGER NOT NULL,
                        delegation TEXT NOT NULL,
                        identity_key_id TEXT,
                        identity_ciphertext BLOB,
                        waitlist_seq INTEGER,
                        correlation_id TEXT,
                        created_at TEXT NOT NULL,
                        updated_at TEXT NOT NULL,
                        UNIQUE (event_id, reference)
                    );
                    CREATE INDEX registrations_waitlist ON registrations(event_id, waitlist_seq) WHERE status = 'waitlisted';
                    CREATE TABLE rejections (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        event_id TEXT,
                        reference TEXT,
                        revision INTEGER,
                        issues TEXT NOT NULL,
                        rejected_at TEXT NOT NULL
                    );
                    """)
        }
        migrator.registerMigration("registrations-2") { db in
            try db.execute(sql: "ALTER TABLE registrations ADD COLUMN submitted_at TEXT")
        }
        // Cancellations that arrived before their submission, waiting for it.
        migrator.registerMigration("registrations-3") { db in
            try db.execute(
                sql: """
                    CREATE TABLE pending_cancellations (
                        event_id TEXT NOT NULL,
                        reference TEXT NOT NULL,
                        message_id TEXT NOT NULL,
                        correlation_id TEXT NOT NULL,
                        reason TEXT,
                        received_at TEXT NOT NULL,
                        expires_at TEXT NOT NULL,
                        PRIMARY KEY (event_id, reference)
                    );
                    CREATE INDEX pending_cancellations_expiry ON pending_cancellations(expires_at);
                    """)
        }
        // Records: times in one sortable form, site visits as a JSON list, identity documents in
        // a table of their own, and the constraints SQLite can enforce.
        migrator.registerMigration("registrations-4") { db in
            try DatabaseMigrator.rewriteTimes(in: db, table: "events", key: "event_id", columns: ["registration_deadline"])
            try DatabaseMigrator.rewriteTimes(
                in: db, table: "registrations", key: "registration_id", columns: ["created_at", "updated_at", "submitted_at"])
            try DatabaseMigrator.rewriteTimes(in: db, table: "rejections", key: "id", columns: ["rejected_at"])
            for row in try Row.fetchAll(db, sql: "SELECT event_id, site_visits FROM events") {
                let visits = (row[1] as String).split(separator: ",").map(String.init)
                try db.execute(
                    sql: "UPDATE events SET site_visits = ? WHERE event_id = ?",
                    arguments: [try MessageCoding.encodeText(visits), row[0] as String])
            }
            try db.execute(
                sql: """
                    CREATE TABLE registrations_checked (
                        registration_id TEXT PRIMARY KEY,
                        event_id TEXT NOT NULL,
                        reference TEXT NOT NULL,
                        revision INTEGER NOT NULL CHECK (revision >= 1),
                        status TEXT NOT NULL CHECK (status IN ('accepted', 'waitlisted', 'cancelled')),
                        organisation TEXT NOT NULL,
                        delegate_count INTEGER NOT NULL CHECK (delegate_count >= 0),
                        delegation TEXT NOT NULL,
                        waitlist_seq INTEGER CHECK ((status = 'waitlisted') = (waitlist_seq IS NOT NULL)),
                        correlation_id TEXT,
                        created_at TEXT NOT NULL,
                        updated_at TEXT NOT NULL,
                        submitted_at TEXT,
                        UNIQUE (event_id, reference)
                    );
                    INSERT INTO registrations_checked (registration_id, event_id, reference, revision, status, organisation, delegate_count,
                        delegation, waitlist_seq, correlation_id, created_at, updated_at, submitted_at)
                        SELECT registration_id, event_id, reference, revision, status, organisation, delegate_count, delegation,
                        waitlist_seq, correlation_id, created_at, updated_at, submitted_at FROM registrations;
                    CREATE TABLE registration_identities (
                        registration_id TEXT PRIMARY KEY REFERENCES registrations(registration_id) ON DELETE CASCADE,
                        key_id TEXT NOT NULL,
                        ciphertext BLOB NOT NULL
                    );
                    INSERT INTO registration_identities (registration_id, key_id, ciphertext)
                        SELECT registration_id, identity_key_id, identity_ciphertext FROM registrations
                        WHERE identity_key_id IS NOT NULL AND identity_ciphertext IS NOT NULL;
                    DROP TABLE registrations;
                    ALTER TABLE registrations_checked RENAME TO registrations;
                    CREATE INDEX registrations_waitlist ON registrations(event_id, waitlist_seq) WHERE status = 'waitlisted';
                    CREATE INDEX registrations_event ON registrations(event_id, created_at);
                    """)
        }
        // Retention: when each event ends, and the erasures asked and done.
        migrator.registerMigration("registrations-5") { db in
            try db.execute(
                sql: """
                    ALTER TABLE events ADD COLUMN ends_at TEXT;
                    CREATE TABLE erasures (
                        registration_id TEXT PRIMARY KEY,
                        event_id TEXT NOT NULL,
                        reason TEXT NOT NULL CHECK (reason IN ('request', 'retention')),
                        requested_at TEXT NOT NULL,
                        erased_at TEXT
                    );
                    CREATE INDEX erasures_event ON erasures(event_id);
                    """)
        }
        // Contract 1.3: the registrations whose data key went out in an outbox committed here.
        migrator.registerMigration("registrations-6") { db in
            try db.execute(sql: "CREATE TABLE announced_keys (registration_id TEXT PRIMARY KEY)")
        }
    }

    /// Records that `registrationID`'s data key is in the outbox; false if it was already.
    static func announceKey(_ registrationID: String, in db: Database) throws -> Bool {
        try db.execute(sql: "INSERT OR IGNORE INTO announced_keys (registration_id) VALUES (?)", arguments: [registrationID])
        return db.changesCount > 0
    }

    // MARK: Events

    public static func event(_ eventID: String, in db: Database) throws -> EventProgramme? {
        try EventRecord.record(db, key: eventID)?.programme
    }

    public static func save(_ event: EventProgramme, in db: Database) throws {
        try EventRecord(event).upsert(db)
    }

    // MARK: Erasure and retention

    public static func erasure(_ registrationID: String, in db: Database) throws -> ErasureRecord? {
        try ErasureRecord.record(db, key: registrationID)
    }

    public static func save(_ erasure: ErasureRecord, in db: Database) throws { try erasure.upsert(db) }

    /// Registrations of events over for `retention` seconds whose erasure nobody asked yet.
    public static func dueForErasure(now: Date, retention: Double, in db: Database) throws -> [RegistrationRecord] {
        try RegistrationRecord.records(
            db,
            sql: """
                SELECT registrations.* FROM registrations JOIN events USING (event_id)
                WHERE events.ends_at IS NOT NULL AND events.ends_at <= ?
                  AND registrations.registration_id NOT IN (SELECT registration_id FROM erasures)
                ORDER BY registrations.event_id, registrations.reference
                """,
            arguments: [MessageCoding.formatSortable(now.addingTimeInterval(-retention))])
    }

    /// When the next event's retention ends, among those with registrations not yet asked.
    public static func nextRetentionEnd(retention: Double, in db: Database) throws -> Date? {
        try String.fetchOne(
            db,
            sql: """
                SELECT min(events.ends_at) FROM events JOIN registrations USING (event_id)
                WHERE events.ends_at IS NOT NULL
                  AND registrations.registration_id NOT IN (SELECT registration_id FROM erasures)
                """
        ).flatMap(MessageCoding.parse).map { $0.addingTimeInterval(retention) }
    }

    /// Each event's retention: when it ends, when its data is due to go, and how far that went.
    public static func retention(_ retention: Double, in db: Database) throws -> [RetentionStatus] {
        let rows = try Row.fetchAll(
            db,
            sql: """
                SELECT events.event_id, events.ends_at, count(registrations.registration_id),
                       count(erasures.registration_id), count(erasures.erased_at)
                FROM events LEFT JOIN registrations USING (event_id)
                     LEFT JOIN erasures ON erasures.registration_id = registrations.registration_id
                WHERE events.ends_at IS NOT NULL
                GROUP BY events.event_id ORDER BY events.ends_at
                """)
        return rows.compactMap { row in
            guard let ends = (row[1] as String?).flatMap(MessageCoding.parse) else { return nil }
            return RetentionStatus(
                eventID: row[0], endsAt: ends, eraseFrom: ends.addingTimeInterval(retention), registrations: row[2], requested: row[3],
                erased: row[4])
        }
    }

    // MARK: Cancellations waiting for their submission

    /// Keeps the first request for a reference (a later one changes nothing: one cancellation
    /// is enough).
    public static func savePending(_ cancellation: PendingCancellation, in db: Database) throws {
        try cancellation.insert(db, onConflict: .ignore)
    }

    public static func pendingCancellation(eventID: String, reference: String, in db: Database) throws -> PendingCancellation? {
        try PendingCancellation.records(
            db, sql: "SELECT * FROM pending_cancellations WHERE event_id = ? AND reference = ?", arguments: [eventID, reference]
        ).first
    }

    /// Those whose wait ended by `now`, oldest first.
    public static func expiredCancellations(now: Date, in db: Database) throws -> [PendingCancellation] {
        try PendingCancellation.records(
            db, PendingCancellation.filter(Column("expires_at") <= MessageCoding.formatSortable(now)).order(Column("expires_at")))
    }

    /// When the next one expires, if any waits.
    public static func nextCancellationExpiry(in db: Database) throws -> Date? {
        try PendingCancellation.record(db, PendingCancellation.order(Column("expires_at")).limit(1))?.expiresAt
    }

    public static func removePending(eventID: String, reference: String, in db: Database) throws {
        _ = try PendingCancellation.deleteOne(db, key: ["event_id": eventID, "reference": reference])
    }

    // MARK: Registrations

    public static func registration(eventID: String, reference: String, in db: Database) throws -> RegistrationRecord? {
        try RegistrationRecord.records(
            db, sql: "SELECT * FROM registrations WHERE event_id = ? AND reference = ? LIMIT 1", arguments: [eventID, reference]
        ).first
    }

    public static func registration(id: String, in db: Database) throws -> RegistrationRecord? {
        try RegistrationRecord.record(db, key: id)
    }

    /// An event's registrations in arrival order.
    public static func registrations(eventID: String, in db: Database) throws -> [RegistrationRecord] {
        try RegistrationRecord.records(
            db, RegistrationRecord.filter(Column("event_id") == eventID).order(Column("created_at"), Column("registration_id")))
    }

    /// Inserts or updates the record; identity documents are set apart with `setIdentity`.
    public static func save(_ record: RegistrationRecord, in db: Database) throws {
        try record.upsertKept(db)
    }

    /// Replaces the sealed identity documents (nil removes them).
    public static func setIdentity(registrationID: String, _ sealed: (keyID: String, ciphertext: Data)?, in db: Database) throws {
        guard let sealed else {
            _ = try IdentityRecord.deleteOne(db, key: registrationID)
            return
        }
        try IdentityRecord(registrationID: registrationID, keyID: sealed.keyID, ciphertext: sealed.ciphertext).upsertKept(db)
    }

    public static func identity(registrationID: String, in db: Database) throws -> (keyID: String, ciphertext: Data)? {
        try IdentityRecord.record(db, key: registrationID).map { ($0.keyID, $0.ciphertext) }
    }

    /// Places taken by accepted registrations of the event.
    public static func usage(eventID: String, excluding registrationID: String? = nil, in db: Database) throws -> (
        organisations: Int, delegates: Int
    ) {
        // (asked for every registration placed: a statement kept per connection)
        let row = try Row.fetchOne(
            db.cachedStatement(
                sql: """
                    SELECT count(*), total(delegate_count) FROM registrations
                    WHERE event_id = ? AND status = 'accepted' AND registration_id != ?
                    """),
            arguments: [eventID, registrationID ?? ""])
        return (row?[0] ?? 0, Int(row?[1] ?? 0.0))
    }

    /// The waiting list in arrival order.
    public static func waitlist(eventID: String, in db: Database) throws -> [RegistrationRecord] {
        try RegistrationRecord.records(
            db, sql: "SELECT * FROM registrations WHERE event_id = ? AND status = 'waitlisted' ORDER BY waitlist_seq", arguments: [eventID])
    }

    public static func nextWaitlistSequence(eventID: String, in db: Database) throws -> Int64 {
        (try Int64.fetchOne(db, RegistrationRecord.filter(Column("event_id") == eventID).select(max(Column("waitlist_seq")))) ?? 0) + 1
    }

    /// 1-based position on the waiting list.
    public static func waitlistPosition(of record: RegistrationRecord, in db: Database) throws -> Int {
        guard let sequence = record.waitlistSequence else { return 0 }
        return try waiting(record.eventID).filter(Column("waitlist_seq") <= sequence).fetchCount(db)
    }

    private static func waiting(_ eventID: String) -> QueryInterfaceRequest<RegistrationRecord> {
        RegistrationRecord.filter(Column("event_id") == eventID && Column("status") == RegistrationRecord.Status.waitlisted.rawValue)
    }

    public static func recordRejection(eventID: String?, reference: String?, revision: Int?, issues: [ValidationIssue], in db: Database)
        throws
    {
        let rejection = RejectionRecord(eventID: eventID, reference: reference, revision: revision, issues: issues, rejectedAt: Date())
        try rejection.insert(db)
    }

    public static func rejectionCount(eventID: String, in db: Database) throws -> Int {
        try RejectionRecord.filter(Column("event_id") == eventID).fetchCount(db)
    }

    /// Every registration's sealed identity documents (for key rotation).
    public static func sealedIdentities(in db: Database) throws -> [(registrationID: String, keyID: String, ciphertext: Data)] {
        try IdentityRecord.records(db, IdentityRecord.all()).map { ($0.registrationID, $0.keyID, $0.ciphertext) }
    }
}
