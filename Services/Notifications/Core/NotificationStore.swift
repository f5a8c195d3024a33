import Foundation
import GRDB
import Messages
import ServiceRuntime

/// Who a notification goes to.
public struct Recipient: Sendable, Codable, Hashable {
    public var name: String
    public var email: String
    public var language: Language

    public init(name: String, email: String, language: Language) {
        self.name = name
        self.email = email
        self.language = language
    }
}

/// What a notification says, kept until it is sent (templates render it at send time).
public struct NotificationContent: Sendable, Codable, Equatable {
    public var organisation: String
    public var reference: String?
    public var delegates: Int?
    public var position: Int?
    public var promoted: Bool?
    public var reason: String?
    public var issues: [ValidationIssue] = []
    public var items: [ItineraryItem] = []
    public var changes: [ItineraryChange] = []
    public var unmet: [UnmetPreference] = []
    public var planVersion: Int?
    /// Calendar entries the recipient received that are now withdrawn (a cancellation, or a
    /// delegate removed by an amendment): sent as an iCalendar `METHOD:CANCEL`.
    public var withdrawn: [ItineraryItem]?
    /// The recipient is no longer one of the delegation's people (an amendment removed them).
    public var removedFromDelegation: Bool?
    /// A refused amendment: the registration stands as it was.
    public var standing: RegistrationRejected.Standing?

    public init(organisation: String, reference: String? = nil) {
        self.organisation = organisation
        self.reference = reference
    }
}

/// One notification: to one recipient, of one kind, about one thing, at one version.
public struct NotificationRecord: Sendable, Equatable, Codable {
    public enum Status: String, Sendable, Codable {
        case pending, sending, sent, failed, cancelled
    }

    public var id: String
    public var idempotencyKey: String
    public var registrationID: String?
    public var eventID: String?
    public var kind: NotificationKind
    public var recipient: Recipient
    public var timeZone: String
    public var urgent: Bool
    public var content: NotificationContent
    public var channels: [NotificationChannel]
    public var channelIndex: Int
    public var attempts: Int
    public var totalAttempts: Int
    public var status: Status
    public var dueAt: Date
    public var createdAt: Date
    public var lastError: String?
    public var sentChannel: NotificationChannel?

    public var channel: NotificationChannel? { channelIndex < channels.count ? channels[channelIndex] : nil }
}

/// One try on one channel.
public struct DeliveryAttempt: Sendable, Codable, Equatable {
    public var notificationID: String
    public var attempt: Int
    public var channel: NotificationChannel
    public var startedAt: Date
    public var finishedAt: Date
    public var outcome: String
    public var detail: String?
}

/// The notifications service's tables.
public enum NotificationStore {
    public static func migrate(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("notifications-1") { db in
            try db.execute(sql: """
                CREATE TABLE events (event_id TEXT PRIMARY KEY, name TEXT NOT NULL, time_zone TEXT NOT NULL, venues TEXT NOT NULL, version INTEGER NOT NULL);
                CREATE TABLE contacts (
                    registration_id TEXT PRIMARY KEY,
                    event_id TEXT NOT NULL,
                    organisation TEXT NOT NULL,
                    country TEXT NOT NULL,
                    recipients TEXT NOT NULL,
                    revision INTEGER NOT NULL,
                    cancelled INTEGER NOT NULL DEFAULT 0
                );
                CREATE TABLE notifications (
                    id TEXT PRIMARY KEY,
                    idempotency_key TEXT NOT NULL UNIQUE,
                    registration_id TEXT,
                    event_id TEXT,
                    kind TEXT NOT NULL,
                    recipient_email TEXT NOT NULL,
                    recipient TEXT NOT NULL,
                    time_zone TEXT NOT NULL,
                    urgent INTEGER NOT NULL,
                    content TEXT NOT NULL,
                    channels TEXT NOT NULL,
                    channel_index INTEGER NOT NULL DEFAULT 0,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    total_attempts INTEGER NOT NULL DEFAULT 0,
                    status TEXT NOT NULL,
                    due_at TEXT NOT NULL,
                    created_at TEXT NOT NULL,
                    updated_at TEXT NOT NULL,
                    last_error TEXT,
                    sent_channel TEXT
                );
                CREATE INDEX notifications_due ON notifications(status, due_at);
                CREATE INDEX notifications_registration ON notifications(registration_id);
                CREATE INDEX notifications_recipient ON notifications(recipient_email);
                CREATE TABLE attempts (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    notification_id TEXT NOT NULL,
                    attempt INTEGER NOT NULL,
                    channel TEXT NOT NULL,
                    started_at TEXT NOT NULL,
                    finished_at TEXT NOT NULL,
                    outcome TEXT NOT NULL,
                    detail TEXT
                );
                CREATE INDEX attempts_notification ON attempts(notification_id);
                """)
        }
        // The channel a notification is waiting for, as a column, so that each channel's worker
        // finds its own work however much waits for another channel.
        migrator.registerMigration("notifications-2") { db in
            try db.execute(sql: """
                ALTER TABLE notifications ADD COLUMN channel TEXT;
                UPDATE notifications SET channel = json_extract(channels, '$[' || channel_index || ']');
                DROP INDEX notifications_due;
                CREATE INDEX notifications_due ON notifications(status, channel, due_at);
                """)
        }
    }

    // MARK: Events and contacts

    public static func saveEvent(_ programme: ProgrammePublished, in db: Database) throws {
        let venues = Dictionary(programme.venues.map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
        try db.execute(
            sql: """
                INSERT INTO events (event_id, name, time_zone, venues, version) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT(event_id) DO UPDATE SET name = excluded.name, time_zone = excluded.time_zone, venues = excluded.venues, version = excluded.version
                WHERE excluded.version > events.version
                """,
            arguments: [programme.eventID, MessageCoding.encodeText(programme.name), programme.timeZone, MessageCoding.encodeText(venues), programme.version])
    }

    public struct Event: Sendable {
        public var name: LocalizedText
        public var timeZone: String
        public var venues: [String: LocalizedText]
    }

    public static func event(_ eventID: String, in db: Database) throws -> Event? {
        guard let row = try Row.fetchOne(db, sql: "SELECT name, time_zone, venues FROM events WHERE event_id = ?", arguments: [eventID]) else { return nil }
        return Event(name: try MessageCoding.decode(LocalizedText.self, fromText: row[0]), timeZone: row[1], venues: try MessageCoding.decode([String: LocalizedText].self, fromText: row[2]))
    }

    public struct Contacts: Sendable {
        public var eventID: String
        public var organisation: String
        public var country: String
        /// The lead contact first, then each delegate with an e-mail address.
        public var recipients: [Recipient]
        public var revision: Int
        public var cancelled: Bool
    }

    public static func saveContacts(registrationID: String, _ contacts: Contacts, in db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO contacts (registration_id, event_id, organisation, country, recipients, revision, cancelled) VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(registration_id) DO UPDATE SET organisation = excluded.organisation, country = excluded.country,
                    recipients = excluded.recipients, revision = excluded.revision, cancelled = excluded.cancelled
                """,
            arguments: [registrationID, contacts.eventID, contacts.organisation, contacts.country, MessageCoding.encodeText(contacts.recipients), contacts.revision, contacts.cancelled ? 1 : 0])
    }

    public static func contacts(_ registrationID: String, in db: Database) throws -> Contacts? {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM contacts WHERE registration_id = ?", arguments: [registrationID]) else { return nil }
        return Contacts(
            eventID: row["event_id"], organisation: row["organisation"], country: row["country"],
            recipients: try MessageCoding.decode([Recipient].self, fromText: row["recipients"]), revision: row["revision"], cancelled: (row["cancelled"] as Int) == 1)
    }

    // MARK: Notifications

    /// Inserts unless a notification with the same idempotency key exists; true if inserted.
    @discardableResult
    public static func insert(_ record: NotificationRecord, in db: Database) throws -> Bool {
        try db.execute(
            sql: """
                INSERT OR IGNORE INTO notifications (id, idempotency_key, registration_id, event_id, kind, recipient_email, recipient, time_zone, urgent,
                    content, channels, channel, channel_index, attempts, total_attempts, status, due_at, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0, ?, ?, ?, ?)
                """,
            arguments: [
                record.id, record.idempotencyKey, record.registrationID, record.eventID, record.kind.rawValue, record.recipient.email.lowercased(),
                MessageCoding.encodeText(record.recipient), record.timeZone, record.urgent ? 1 : 0, MessageCoding.encodeText(record.content), MessageCoding.encodeText(record.channels), record.channels.first?.rawValue,
                record.status.rawValue, MessageCoding.formatSortable(record.dueAt), MessageCoding.formatSortable(record.createdAt),
                MessageCoding.formatSortable(record.createdAt),
            ])
        return db.changesCount > 0
    }

    public static func update(_ record: NotificationRecord, in db: Database) throws {
        try db.execute(
            sql: """
                UPDATE notifications SET content = ?, urgent = ?, channel = ?, channel_index = ?, attempts = ?, total_attempts = ?, status = ?,
                    due_at = ?, updated_at = ?, last_error = ?, sent_channel = ?, idempotency_key = ? WHERE id = ?
                """,
            arguments: [
                MessageCoding.encodeText(record.content), record.urgent ? 1 : 0, record.channel?.rawValue, record.channelIndex, record.attempts, record.totalAttempts,
                record.status.rawValue, MessageCoding.formatSortable(record.dueAt), MessageCoding.formatSortable(Date()), record.lastError, record.sentChannel?.rawValue, record.idempotencyKey, record.id,
            ])
    }

    public static func notification(_ id: String, in db: Database) throws -> NotificationRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM notifications WHERE id = ?", arguments: [id]).map(record)
    }

    /// A pending itinerary change for the recipient and registration that has not gone yet:
    /// the digest a new change joins.
    public static func pendingDigest(registrationID: String, email: String, in db: Database) throws -> NotificationRecord? {
        try Row.fetchOne(
            db, sql: "SELECT * FROM notifications WHERE registration_id = ? AND recipient_email = ? AND kind IN ('itinerary-changed', 'digest') AND status = 'pending' AND attempts = 0 ORDER BY created_at LIMIT 1",
            arguments: [registrationID, email.lowercased()]
        ).map(record)
    }

    /// Itinerary notifications, the kinds that carry calendar entries.
    static let itineraryKinds: [NotificationKind] = [.itineraryPlanned, .itineraryChanged, .digest]

    /// The calendar entries `email` holds for the registration: those of the last itinerary
    /// notification sent to it (or being sent), each of which carries the whole itinerary.
    public static func heldEntries(registrationID: String, email: String, in db: Database) throws -> [ItineraryItem] {
        let row = try Row.fetchOne(
            db,
            sql: """
                SELECT content FROM notifications WHERE registration_id = ? AND recipient_email = ? AND kind IN ('itinerary-planned', 'itinerary-changed', 'digest')
                    AND status IN ('sent', 'sending') ORDER BY created_at DESC, id DESC LIMIT 1
                """,
            arguments: [registrationID, email.lowercased()])
        guard let text: String = row?[0] else { return [] }
        return try MessageCoding.decode(NotificationContent.self, fromText: text).items
    }

    /// The last notice about the registration's status (accepted, waitlisted, cancelled) queued
    /// for `email` that was not withdrawn or given up.
    public static func lastStatusNotice(registrationID: String, email: String, in db: Database) throws -> NotificationRecord? {
        try Row.fetchOne(
            db,
            sql: """
                SELECT * FROM notifications WHERE registration_id = ? AND recipient_email = ? AND kind IN ('accepted', 'waitlisted', 'cancelled')
                    AND status IN ('pending', 'sending', 'sent') ORDER BY created_at DESC, id DESC LIMIT 1
                """,
            arguments: [registrationID, email.lowercased()]
        ).map(record)
    }

    /// Notifications due on `channel` by `now` (oldest first).
    /// Takes up to `limit` notifications due on `channel` for sending: each is marked `sending`
    /// with its attempt counted, in the caller's transaction.
    public static func claim(channel: NotificationChannel, now: Date, limit: Int, in db: Database) throws -> [NotificationRecord] {
        let due = try Row.fetchAll(
            db, sql: "SELECT * FROM notifications WHERE status = 'pending' AND channel = ? AND due_at <= ? ORDER BY due_at, id LIMIT ?",
            arguments: [channel.rawValue, MessageCoding.formatSortable(now), limit]
        ).map(record)
        return try due.map { original in
            var record = original
            record.status = .sending
            record.attempts += 1
            record.totalAttempts += 1
            try update(record, in: db)
            return record
        }
    }

    /// Pending notifications about a registration (to `email` only, if given) are withdrawn.
    public static func cancelPending(
        registrationID: String, email: String? = nil, except kinds: Set<NotificationKind>, because reason: String = "the registration was cancelled",
        in db: Database
    ) throws -> Int {
        let pending = try Row.fetchAll(db, sql: "SELECT * FROM notifications WHERE registration_id = ? AND status = 'pending'", arguments: [registrationID])
            .map(record).filter { email == nil || $0.recipient.email.lowercased() == email?.lowercased() }
        var count = 0
        for var record in pending where !kinds.contains(record.kind) {
            record.status = .cancelled
            record.lastError = reason
            try update(record, in: db)
            count += 1
        }
        return count
    }

    /// A crash mid-send leaves `sending`: those go again (at least once).
    public static func resetInterrupted(in db: Database) throws -> Int {
        try db.execute(sql: "UPDATE notifications SET status = 'pending' WHERE status = 'sending'")
        return db.changesCount
    }

    public static func recordAttempt(_ attempt: DeliveryAttempt, in db: Database) throws {
        try db.execute(
            sql: "INSERT INTO attempts (notification_id, attempt, channel, started_at, finished_at, outcome, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
            arguments: [
                attempt.notificationID, attempt.attempt, attempt.channel.rawValue, MessageCoding.formatSortable(attempt.startedAt),
                MessageCoding.formatSortable(attempt.finishedAt), attempt.outcome, attempt.detail,
            ])
    }

    public static func attempts(_ notificationID: String, in db: Database) throws -> [DeliveryAttempt] {
        try Row.fetchAll(db, sql: "SELECT * FROM attempts WHERE notification_id = ? ORDER BY id", arguments: [notificationID]).map { row in
            DeliveryAttempt(
                notificationID: row["notification_id"], attempt: row["attempt"], channel: NotificationChannel(rawValue: row["channel"]) ?? .email,
                startedAt: MessageCoding.parse(row["started_at"]) ?? Date(), finishedAt: MessageCoding.parse(row["finished_at"]) ?? Date(),
                outcome: row["outcome"], detail: row["detail"])
        }
    }

    public static func notifications(registrationID: String, in db: Database) throws -> [NotificationRecord] {
        try Row.fetchAll(db, sql: "SELECT * FROM notifications WHERE registration_id = ? ORDER BY created_at, id", arguments: [registrationID]).map(record)
    }

    public static func notifications(recipient email: String, in db: Database) throws -> [NotificationRecord] {
        try Row.fetchAll(db, sql: "SELECT * FROM notifications WHERE recipient_email = ? ORDER BY created_at, id", arguments: [email.lowercased()]).map(record)
    }

    public static func counts(in db: Database) throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT status, COUNT(*) FROM notifications GROUP BY status") { counts[row[0]] = row[1] }
        return counts
    }

    private static func record(_ row: Row) throws -> NotificationRecord {
        NotificationRecord(
            id: row["id"], idempotencyKey: row["idempotency_key"], registrationID: row["registration_id"], eventID: row["event_id"],
            kind: NotificationKind(rawValue: row["kind"]) ?? .accepted, recipient: try MessageCoding.decode(Recipient.self, fromText: row["recipient"]),
            timeZone: row["time_zone"], urgent: (row["urgent"] as Int) == 1, content: try MessageCoding.decode(NotificationContent.self, fromText: row["content"]),
            channels: try MessageCoding.decode([NotificationChannel].self, fromText: row["channels"]), channelIndex: row["channel_index"], attempts: row["attempts"],
            totalAttempts: row["total_attempts"], status: NotificationRecord.Status(rawValue: row["status"]) ?? .failed,
            dueAt: MessageCoding.parse(row["due_at"]) ?? Date(), createdAt: MessageCoding.parse(row["created_at"]) ?? Date(),
            lastError: row["last_error"], sentChannel: (row["sent_channel"] as String?).flatMap(NotificationChannel.init(rawValue:)))
    }
}
