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
        // The event's time zone: documents' expiry days are read in it.
        migrator.registerMigration("registrations-7") { db in
            try db.execute(sql: "ALTER TABLE events ADD COLUMN time_zone TEXT")
        }
        // `/counts` counts an event's rejections on every call.
        migrator.registerMigration("registrations-8") { db in
            try db.execute(sql: "CREATE INDEX rejections_event ON rejections(event_id)")
        }
        // The registration each rejection is of: a submission only ever refused has a data key
        // too, which retention erases.
        migrator.registerMigration("registrations-9") { db in
            try db.execute(sql: "ALTER TABLE rejections ADD COLUMN registration_id TEXT")
            let refused = try Row.fetchAll(
                db, sql: "SELECT DISTINCT event_id, reference FROM rejections WHERE event_id IS NOT NULL AND reference IS NOT NULL")
            for row in refused {
                let (eventID, reference): (String, String) = (row[0], row[1])
                try db.execute(
                    sql: "UPDATE rejections SET registration_id = ? WHERE event_id = ? AND reference = ?",
                    arguments: [Messages.registrationID(eventID: eventID, reference: reference), eventID, reference])
            }
        }
        // When a cancellation was asked: an amendment submitted before it (delayed, or replayed
        // by ops) leaves the registration cancelled.
        migrator.registerMigration("registrations-10") { db in
            try db.execute(sql: "ALTER TABLE registrations ADD COLUMN cancel_requested_at TEXT")
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

    /// Every registration that holds personal data here or a data key: those placed, and those
    /// only ever refused (their record for the archive and their answer were sealed under a key).
    private static let held = """
        SELECT registration_id, event_id, reference FROM registrations
        UNION
        SELECT registration_id, event_id, reference FROM rejections WHERE registration_id IS NOT NULL
        """

    /// Registrations (placed, or only ever refused) of events over for `retention` seconds whose
    /// erasure nobody asked yet, by event and reference.
    public static func dueForErasure(now: Date, retention: Double, in db: Database) throws -> [(
        registrationID: String, eventID: String, reference: String
    )] {
        try Row.fetchAll(
            db,
            sql: """
                SELECT held.registration_id, held.event_id, held.reference FROM (\(held)) AS held JOIN events USING (event_id)
                WHERE events.ends_at IS NOT NULL AND events.ends_at <= ?
                  AND held.registration_id NOT IN (SELECT registration_id FROM erasures)
                ORDER BY held.event_id, held.reference
                """,
            arguments: [MessageCoding.formatSortable(now.addingTimeInterval(-retention))]
        ).map { row in (row[0], row[1], row[2]) }
    }

    /// When the next event's retention ends, among those with registrations (placed, or only
    /// ever refused) not yet asked.
    public static func nextRetentionEnd(retention: Double, in db: Database) throws -> Date? {
        try String.fetchOne(
            db,
            sql: """
                SELECT min(events.ends_at) FROM events JOIN (\(held)) AS held USING (event_id)
                WHERE events.ends_at IS NOT NULL
                  AND held.registration_id NOT IN (SELECT registration_id FROM erasures)
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
        let registrationID = eventID.flatMap { eventID in reference.map { Messages.registrationID(eventID: eventID, reference: $0) } }
        let rejection = RejectionRecord(
            eventID: eventID, reference: reference, registrationID: registrationID, revision: revision, issues: issues, rejectedAt: Date())
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
