import Foundation
import GRDB
import Messages

/// A registration as the store keeps it. Identity documents are not here: they live encrypted
/// in their own column and are read only to build `registration.accepted`.
public struct RegistrationRecord: Sendable, Equatable, Codable {
    public enum Status: String, Sendable, Codable {
        case accepted, waitlisted, cancelled
    }

    public var registrationID: String
    public var eventID: String
    public var reference: String
    public var revision: Int
    public var status: Status
    /// Without identity documents.
    public var delegation: Delegation
    /// Arrival order on the waiting list (nil unless waitlisted).
    public var waitlistSequence: Int64?
    public var correlationID: String?
    /// The accepted revision's own `submittedAt`, if it gave one.
    public var submittedAt: Date?
    public var createdAt: Date
    public var updatedAt: Date

    public var delegateCount: Int { delegation.delegates.count }
}

/// The registrations service's tables and queries (run inside the pipeline's transaction).
public enum RegistrationStore {
    public static func migrate(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("registrations-1") { db in
            try db.execute(sql: """
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
            try db.execute(sql: """
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
    }

    // MARK: Events

    public static func event(_ eventID: String, in db: Database) throws -> EventProgramme? {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM events WHERE event_id = ?", arguments: [eventID]) else { return nil }
        let visits: String = row["site_visits"]
        return EventProgramme(
            eventID: row["event_id"], version: row["programme_version"],
            capacity: EventCapacity(organisations: row["capacity_organisations"], delegates: row["capacity_delegates"]),
            registrationDeadline: (row["registration_deadline"] as String?).flatMap(MessageCoding.parse),
            siteVisitIDs: Set(visits.split(separator: ",").map(String.init)))
    }

    public static func save(_ event: EventProgramme, in db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO events (event_id, programme_version, capacity_organisations, capacity_delegates, registration_deadline, site_visits)
                VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT(event_id) DO UPDATE SET programme_version = excluded.programme_version,
                    capacity_organisations = excluded.capacity_organisations, capacity_delegates = excluded.capacity_delegates,
                    registration_deadline = excluded.registration_deadline, site_visits = excluded.site_visits
                """,
            arguments: [
                event.eventID, event.version, event.capacity.organisations, event.capacity.delegates,
                event.registrationDeadline.map(MessageCoding.format), event.siteVisitIDs.sorted().joined(separator: ","),
            ])
    }

    // MARK: Cancellations waiting for their submission

    /// A `registration.cancel-requested` for a reference not (yet) known.
    public struct PendingCancellation: Sendable, Equatable {
        public var eventID: String
        public var reference: String
        /// The request's message id and the id its answer carries.
        public var messageID: String
        public var correlationID: String
        public var reason: String?
        public var receivedAt: Date
        /// When it is answered with `unknown_reference` if no submission came.
        public var expiresAt: Date
    }

    /// Keeps the first request for a reference (a later one changes nothing: one cancellation
    /// is enough).
    public static func savePending(_ cancellation: PendingCancellation, in db: Database) throws {
        try db.execute(
            sql: """
                INSERT OR IGNORE INTO pending_cancellations (event_id, reference, message_id, correlation_id, reason, received_at, expires_at)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                cancellation.eventID, cancellation.reference, cancellation.messageID, cancellation.correlationID, cancellation.reason,
                MessageCoding.formatSortable(cancellation.receivedAt), MessageCoding.formatSortable(cancellation.expiresAt),
            ])
    }

    public static func pendingCancellation(eventID: String, reference: String, in db: Database) throws -> PendingCancellation? {
        try Row.fetchOne(db, sql: "SELECT * FROM pending_cancellations WHERE event_id = ? AND reference = ?", arguments: [eventID, reference])
            .map(pendingCancellation)
    }

    /// Those whose wait ended by `now`, oldest first.
    public static func expiredCancellations(now: Date, in db: Database) throws -> [PendingCancellation] {
        try Row.fetchAll(db, sql: "SELECT * FROM pending_cancellations WHERE expires_at <= ? ORDER BY expires_at", arguments: [MessageCoding.formatSortable(now)])
            .map(pendingCancellation)
    }

    /// When the next one expires, if any waits.
    public static func nextCancellationExpiry(in db: Database) throws -> Date? {
        guard let text = try String.fetchOne(db, sql: "SELECT MIN(expires_at) FROM pending_cancellations") else { return nil }
        return try date(text, column: "pending_cancellations.expires_at")
    }

    public static func removePending(eventID: String, reference: String, in db: Database) throws {
        try db.execute(sql: "DELETE FROM pending_cancellations WHERE event_id = ? AND reference = ?", arguments: [eventID, reference])
    }

    private static func pendingCancellation(_ row: Row) throws -> PendingCancellation {
        PendingCancellation(
            eventID: row["event_id"], reference: row["reference"], messageID: row["message_id"], correlationID: row["correlation_id"],
            reason: row["reason"], receivedAt: try date(row["received_at"], column: "received_at"),
            expiresAt: try date(row["expires_at"], column: "expires_at"))
    }

    /// A stored time; a value that does not read is an error naming it, never a default.
    private static func date(_ text: String, column: String) throws -> Date {
        guard let date = MessageCoding.parse(text) else { throw DatabaseError(message: "\(column) holds '\(text)', which is not a time") }
        return date
    }

    // MARK: Registrations

    public static func registration(eventID: String, reference: String, in db: Database) throws -> RegistrationRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM registrations WHERE event_id = ? AND reference = ?", arguments: [eventID, reference]).map(record)
    }

    public static func registration(id: String, in db: Database) throws -> RegistrationRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM registrations WHERE registration_id = ?", arguments: [id]).map(record)
    }

    public static func registrations(eventID: String, in db: Database) throws -> [RegistrationRecord] {
        try Row.fetchAll(db, sql: "SELECT * FROM registrations WHERE event_id = ? ORDER BY created_at, registration_id", arguments: [eventID]).map(record)
    }

    /// Inserts or updates the record; identity documents are set apart with `setIdentity`.
    public static func save(_ record: RegistrationRecord, in db: Database) throws {
        let delegation = try MessageCoding.encodeText(record.delegation.withoutIdentityDocuments)
        try db.execute(
            sql: """
                INSERT INTO registrations (registration_id, event_id, reference, revision, status, organisation, delegate_count, delegation,
                    waitlist_seq, correlation_id, submitted_at, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(registration_id) DO UPDATE SET revision = excluded.revision, status = excluded.status,
                    organisation = excluded.organisation, delegate_count = excluded.delegate_count, delegation = excluded.delegation,
                    waitlist_seq = excluded.waitlist_seq, correlation_id = excluded.correlation_id, submitted_at = excluded.submitted_at,
                    updated_at = excluded.updated_at
                """,
            arguments: [
                record.registrationID, record.eventID, record.reference, record.revision, record.status.rawValue,
                record.delegation.organisation.name, record.delegateCount, delegation,
                record.waitlistSequence, record.correlationID, record.submittedAt.map(MessageCoding.format),
                MessageCoding.format(record.createdAt), MessageCoding.format(record.updatedAt),
            ])
    }

    /// Replaces the sealed identity documents (nil removes them).
    public static func setIdentity(registrationID: String, _ sealed: (keyID: String, ciphertext: Data)?, in db: Database) throws {
        try db.execute(
            sql: "UPDATE registrations SET identity_key_id = ?, identity_ciphertext = ? WHERE registration_id = ?",
            arguments: [sealed?.keyID, sealed?.ciphertext, registrationID])
    }

    public static func identity(registrationID: String, in db: Database) throws -> (keyID: String, ciphertext: Data)? {
        guard let row = try Row.fetchOne(db, sql: "SELECT identity_key_id, identity_ciphertext FROM registrations WHERE registration_id = ?", arguments: [registrationID]),
            let keyID: String = row[0], let ciphertext: Data = row[1]
        else { return nil }
        return (keyID, ciphertext)
    }

    /// Places taken by accepted registrations of the event.
    public static func usage(eventID: String, excluding registrationID: String? = nil, in db: Database) throws -> (organisations: Int, delegates: Int) {
        let row = try Row.fetchOne(
            db, sql: "SELECT COUNT(*), COALESCE(SUM(delegate_count), 0) FROM registrations WHERE event_id = ? AND status = 'accepted' AND registration_id != ?",
            arguments: [eventID, registrationID ?? ""])
        return (row?[0] ?? 0, row?[1] ?? 0)
    }

    /// The waiting list in arrival order.
    public static func waitlist(eventID: String, in db: Database) throws -> [RegistrationRecord] {
        try Row.fetchAll(db, sql: "SELECT * FROM registrations WHERE event_id = ? AND status = 'waitlisted' ORDER BY waitlist_seq", arguments: [eventID]).map(record)
    }

    public static func nextWaitlistSequence(eventID: String, in db: Database) throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(waitlist_seq), 0) + 1 FROM registrations WHERE event_id = ?", arguments: [eventID]) ?? 1
    }

    /// 1-based position on the waiting list.
    public static func waitlistPosition(of record: RegistrationRecord, in db: Database) throws -> Int {
        guard let sequence = record.waitlistSequence else { return 0 }
        return try Int.fetchOne(
            db, sql: "SELECT COUNT(*) FROM registrations WHERE event_id = ? AND status = 'waitlisted' AND waitlist_seq <= ?",
            arguments: [record.eventID, sequence]) ?? 0
    }

    public static func recordRejection(eventID: String?, reference: String?, revision: Int?, issues: [ValidationIssue], in db: Database) throws {
        try db.execute(
            sql: "INSERT INTO rejections (event_id, reference, revision, issues, rejected_at) VALUES (?, ?, ?, ?, ?)",
            arguments: [eventID, reference, revision, try MessageCoding.encodeText(issues), MessageCoding.format(Date())])
    }

    public static func rejectionCount(eventID: String, in db: Database) throws -> Int {
        try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM rejections WHERE event_id = ?", arguments: [eventID]) ?? 0
    }

    /// Every row with sealed identity documents (for key rotation).
    public static func sealedIdentities(in db: Database) throws -> [(registrationID: String, keyID: String, ciphertext: Data)] {
        try Row.fetchAll(db, sql: "SELECT registration_id, identity_key_id, identity_ciphertext FROM registrations WHERE identity_ciphertext IS NOT NULL").map {
            ($0[0], $0[1], $0[2])
        }
    }

    private static func record(_ row: Row) throws -> RegistrationRecord {
        let delegationText: String = row["delegation"]
        return RegistrationRecord(
            registrationID: row["registration_id"], eventID: row["event_id"], reference: row["reference"], revision: row["revision"],
            status: RegistrationRecord.Status(rawValue: row["status"]) ?? .cancelled,
            delegation: try MessageCoding.decode(Delegation.self, fromText: delegationText),
            waitlistSequence: row["waitlist_seq"], correlationID: row["correlation_id"],
            submittedAt: (row["submitted_at"] as String?).flatMap(MessageCoding.parse),
            createdAt: (row["created_at"] as String?).flatMap(MessageCoding.parse) ?? Date(timeIntervalSince1970: 0),
            updatedAt: (row["updated_at"] as String?).flatMap(MessageCoding.parse) ?? Date(timeIntervalSince1970: 0))
    }
}
