import Foundation
import GRDB
import Messages
import ServiceRuntime

/// The notifications service's tables.
public enum NotificationStore {
    public static func migrate(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("notifications-1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE events (event_id TEXT PRIMARY KEY, name TEXT NOT NULL, time_zone TEXT NOT NULL,
                        venues TEXT NOT NULL, version INTEGER NOT NULL);
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
            try db.execute(
                sql: """
                    ALTER TABLE notifications ADD COLUMN channel TEXT;
                    UPDATE notifications SET channel = json_extract(channels, '$[' || channel_index || ']');
                    DROP INDEX notifications_due;
                    CREATE INDEX notifications_due ON notifications(status, channel, due_at);
                    """)
        }
        // The trace each notification is sent in; idempotency keys that held the address in
        // clear become its digest (`NotificationsHandler.idempotencyKey`, the same for a key
        // written before and after).
        migrator.registerMigration("notifications-3") { db in
            try db.execute(sql: "ALTER TABLE notifications ADD COLUMN trace TEXT")
            let plain = try Row.fetchAll(db, sql: "SELECT id, idempotency_key FROM notifications WHERE instr(idempotency_key, '|') > 0")
            for row in plain {
                let key: String = row["idempotency_key"]
                try db.execute(
                    sql: "UPDATE notifications SET idempotency_key = ? WHERE id = ?",
                    arguments: [NotificationsHandler.idempotencyKey(key), row["id"] as String])
            }
        }
        // The event's last day (when passes expire) and each delegation's people in order (whose
        // passes the lead receives).
        migrator.registerMigration("notifications-4") { db in
            try db.execute(sql: "ALTER TABLE events ADD COLUMN last_day TEXT; ALTER TABLE contacts ADD COLUMN people TEXT")
        }
        // Tokens a channel must keep across restarts (Zalo's refresh token is good once), and the
        // addresses that opted out of what is not essential (by digest).
        migrator.registerMigration("notifications-5") { db in
            try db.execute(
                sql: """
                    CREATE TABLE channel_tokens (channel TEXT PRIMARY KEY, access_token TEXT NOT NULL, refresh_token TEXT NOT NULL,
                        expires_at TEXT NOT NULL, updated_at TEXT NOT NULL);
                    CREATE TABLE opt_outs (address TEXT PRIMARY KEY, at TEXT NOT NULL);
                    """)
        }
    }

    // MARK: Events and contacts

    /// Keeps the newest version of the programme's names, zone and venues.
    public static func saveEvent(_ programme: ProgrammePublished, in db: Database) throws {
        if let known = try EventRecord.record(db, key: programme.eventID), known.version >= programme.version { return }
        let venues = Dictionary(programme.venues.map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
        try EventRecord(
            eventID: programme.eventID, name: programme.name, timeZone: programme.timeZone, venues: venues, version: programme.version,
            lastDay: programme.days.max()
        )
        .upsert(db)
    }

    public static func event(_ eventID: String, in db: Database) throws -> EventRecord? {
        try EventRecord.record(db, key: eventID)
    }

    /// The version of the event's programme kept (nil: none yet).
    public static func eventVersion(_ eventID: String, in db: Database) throws -> Int? {
        try Int.fetchOne(db.cachedStatement(sql: "SELECT version FROM events WHERE event_id = ?"), arguments: [eventID])
    }

    /// The event's time zone (nil: no programme yet).
    public static func eventZone(_ eventID: String, in db: Database) throws -> String? {
        try String.fetchOne(db.cachedStatement(sql: "SELECT time_zone FROM events WHERE event_id = ?"), arguments: [eventID])
    }

    public static func saveContacts(_ contacts: ContactsRecord, in db: Database) throws {
        try contacts.upsertKept(db)
    }

    public static func contacts(_ registrationID: String, in db: Database) throws -> ContactsRecord? {
        try ContactsRecord.record(db, key: registrationID)
    }

    // MARK: Channel tokens

    /// A channel's tokens, as last kept.
    public static func tokens(_ channel: ChannelName, in db: Database) throws -> ChannelTokens? {
        try Row.fetchOne(
            db, sql: "SELECT access_token, refresh_token, expires_at FROM channel_tokens WHERE channel = ?", arguments: [channel.rawValue]
        ).map { row in
            ChannelTokens(
                accessToken: row["access_token"], refreshToken: row["refresh_token"],
                expiresAt: MessageCoding.parse(row["expires_at"]) ?? .distantPast)
        }
    }

    public static func saveTokens(_ tokens: ChannelTokens, for channel: ChannelName, now: Date, in db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO channel_tokens (channel, access_token, refresh_token, expires_at, updated_at) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT(channel) DO UPDATE SET access_token = excluded.access_token, refresh_token = excluded.refresh_token,
                    expires_at = excluded.expires_at, updated_at = excluded.updated_at
                """,
            arguments: [
                channel.rawValue, tokens.accessToken, tokens.refreshToken, MessageCoding.formatSortable(tokens.expiresAt),
                MessageCoding.formatSortable(now),
            ])
    }

    /// Whether the notification's recipient was erased (it may have been while it was sent).
    public static func isErased(_ id: String, in db: Database) throws -> Bool {
        try String.fetchOne(db.cachedStatement(sql: "SELECT recipient_email FROM notifications WHERE id = ?"), arguments: [id])
            == Erasure.email.lowercased()
    }

    // MARK: Opting out

    /// Whether a registration other than `registrationID` still lists `email` among its people.
    public static func isHeldByAnotherRegistration(_ email: String, than registrationID: String, in db: Database) throws -> Bool {
        try Bool.fetchOne(
            db,
            sql: """
                SELECT EXISTS (SELECT 1 FROM contacts, json_each(contacts.recipients)
                    WHERE contacts.registration_id != ? AND lower(json_extract(json_each.value, '$.email')) = ?)
                """,
            arguments: [registrationID, email.lowercased()]) ?? false
    }

    /// Whether the address (`OptOutLinks.digest`) stopped non-essential notifications.
    public static func isOptedOut(_ address: String, in db: Database) throws -> Bool {
        try Bool.fetchOne(db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM opt_outs WHERE address = ?)"), arguments: [address])
            ?? false
    }

    /// Stops (`out`) or takes back non-essential notifications for the address.
    public static func setOptedOut(_ address: String, _ out: Bool, now: Date, in db: Database) throws {
        if out {
            try db.execute(
                sql: "INSERT INTO opt_outs (address, at) VALUES (?, ?) ON CONFLICT(address) DO NOTHING",
                arguments: [address, MessageCoding.formatSortable(now)])
        } else {
            try db.execute(sql: "DELETE FROM opt_outs WHERE address = ?", arguments: [address])
        }
    }

    // MARK: Notifications

    /// Inserts unless a notification with the same idempotency key exists; true if inserted.
    @discardableResult
    public static func insert(_ record: NotificationRecord, in db: Database) throws -> Bool {
        try record.insertKept(db, ignoringConflicts: true)
    }

    public static func update(_ record: NotificationRecord, in db: Database) throws {
        try record.update(db)
    }

    /// Writes what an attempt changes (status, channel, attempts, due time, error), and nothing
    /// else: the row's recipient and content are not encoded again. Only over a row still in
    /// status `expected` (`sending` after a send): one cancelled or erased meanwhile is left as it
    /// is, never made pending again; but a send that went through is recorded `sent` over a
    /// cancelled row too, since the relay has it and the store must say what happened (erased
    /// rows are the caller's to skip). Returns whether it was written.
    @discardableResult
    public static func recordOutcome(
        _ record: NotificationRecord, over expected: NotificationRecord.Status = .sending, in db: Database
    ) throws -> Bool {
        try db.cachedStatement(
            sql: """
                UPDATE notifications SET status = ?, channel_index = ?, channel = ?, attempts = ?, total_attempts = ?, due_at = ?,
                    last_error = ?, sent_channel = ?, updated_at = ? WHERE id = ? AND (status = ? OR (? AND status = 'cancelled'))
                """
        ).execute(arguments: [
            record.status.rawValue, record.channelIndex, record.channel?.rawValue, record.attempts, record.totalAttempts,
            MessageCoding.formatSortable(record.dueAt), record.lastError, record.sentChannel?.rawValue,
            MessageCoding.formatSortable(Date()), record.id, expected.rawValue, record.status == .sent,
        ])
        return db.changesCount > 0
    }

    /// Whether the notification is still claimed for sending (not cancelled or erased since).
    public static func isSending(_ id: String, in db: Database) throws -> Bool {
        try Bool.fetchOne(
            db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM notifications WHERE id = ? AND status = 'sending')"), arguments: [id]
        ) ?? false
    }

    public static func notification(_ id: String, in db: Database) throws -> NotificationRecord? {
        try NotificationRecord.record(db, key: id)
    }

    /// The notifications about a registration to an address, of `kinds`, in `statuses`, newest
    /// first (`newestFirst`) or oldest first; a statement kept per query.
    private static func about(
        _ registrationID: String, to email: String, kinds: [NotificationKind], statuses: [NotificationRecord.Status], newestFirst: Bool,
        extra: String = ""
    ) -> (sql: String, arguments: StatementArguments) {
        let marks = { (count: Int) in Array(repeating: "?", count: count).joined(separator: ", ") }
        let order = newestFirst ? "created_at DESC, id DESC" : "created_at, id"
        return (
            """
            SELECT * FROM notifications WHERE registration_id = ? AND recipient_email = ? AND kind IN (\(marks(kinds.count)))
                AND status IN (\(marks(statuses.count)))\(extra) ORDER BY \(order)
            """,
            StatementArguments([registrationID, email.lowercased()] + kinds.map(\.rawValue) + statuses.map(\.rawValue))
        )
    }

    /// The pending itinerary change for the recipient and registration that has not gone yet
    /// (and its copy by e-mail, if one goes): the digest a new change joins.
    public static func pendingDigests(registrationID: String, email: String, in db: Database) throws -> [NotificationRecord] {
        let query = about(
            registrationID, to: email, kinds: [.itineraryChanged, .digest], statuses: [.pending], newestFirst: false,
            extra: " AND attempts = 0")
        return try NotificationRecord.records(db, sql: query.sql, arguments: query.arguments)
    }

    /// The calendar entries `email` holds for the registration: those of the last itinerary
    /// notification sent to it (or being sent), each of which carries the whole itinerary.
    public static func heldEntries(registrationID: String, email: String, in db: Database) throws -> [ItineraryItem] {
        let query = about(
            registrationID, to: email, kinds: [.itineraryPlanned, .itineraryChanged, .digest], statuses: [.sent, .sending],
            newestFirst: true)
        return try NotificationRecord.records(db, sql: query.sql + " LIMIT 1", arguments: query.arguments).first?.content.items ?? []
    }

    /// The last notice about the registration's status (accepted, waitlisted, cancelled) queued
    /// for `email` that was not withdrawn or given up.
    public static func lastStatusNotice(registrationID: String, email: String, in db: Database) throws -> NotificationRecord? {
        let query = about(
            registrationID, to: email, kinds: [.accepted, .waitlisted, .cancelled], statuses: [.pending, .sending, .sent],
            newestFirst: true)
        return try NotificationRecord.records(db, sql: query.sql + " LIMIT 1", arguments: query.arguments).first
    }

    /// Takes up to `limit` notifications due on `channel` by `now` (oldest first) for sending:
    /// each is marked `sending` with its attempt counted, in the caller's transaction.
    public static func claim(channel: ChannelName, now: Date, limit: Int, in db: Database) throws -> [NotificationRecord] {
        let due = try NotificationRecord.records(
            db, sql: "SELECT * FROM notifications WHERE status = 'pending' AND channel = ? AND due_at <= ? ORDER BY due_at, id LIMIT ?",
            arguments: [channel.rawValue, MessageCoding.formatSortable(now), limit])
        var claimed: [NotificationRecord] = []
        for original in due {
            var record = original
            // A reminder is never sent once its item has started (a restart, a long retry).
            if record.kind == .reminder, let start = record.content.items.first?.start, start <= now {
                record.status = .cancelled
                record.lastError = "not sent: its item had started"
                try record.update(db)
                continue
            }
            record.status = .sending
            record.attempts += 1
            record.totalAttempts += 1
            // (only what changes: the rest of the row is not encoded again)
            try db.cachedStatement(
                sql: """
                    UPDATE notifications SET status = 'sending', attempts = attempts + 1, total_attempts = total_attempts + 1,
                        updated_at = ? WHERE id = ?
                    """
            ).execute(arguments: [MessageCoding.formatSortable(Date()), record.id])
            claimed.append(record)
        }
        return claimed
    }

    /// The notifications of `kind` about a registration.
    public static func notifications(_ kind: NotificationKind, registrationID: String, in db: Database) throws -> [NotificationRecord] {
        try NotificationRecord.records(
            db, sql: "SELECT * FROM notifications WHERE registration_id = ? AND kind = ?", arguments: [registrationID, kind.rawValue])
    }

    /// Up to `limit` pending notifications that wait for no channel in `running`: none (no channel
    /// could reach the recipient when it was queued) or one that does not run here (the
    /// configuration changed since). The channels pending notifications wait for are found one
    /// index seek each, so that a worker can ask on every turn.
    public static func waitingForNoChannel(running: [ChannelName], limit: Int, in db: Database) throws -> [NotificationRecord] {
        var stranded: [String] = []
        var after = ""
        let next = try db.cachedStatement(
            sql: "SELECT channel FROM notifications WHERE status = 'pending' AND channel > ? ORDER BY channel LIMIT 1")
        while let channel = try String.fetchOne(next, arguments: [after]) {
            if !running.contains(where: { $0.rawValue == channel }) { stranded.append(channel) }
            after = channel
        }
        var records = try NotificationRecord.records(
            db, sql: "SELECT * FROM notifications WHERE status = 'pending' AND channel IS NULL ORDER BY due_at, id LIMIT ?",
            arguments: [limit])
        for channel in stranded where records.count < limit {
            records += try NotificationRecord.records(
                db, sql: "SELECT * FROM notifications WHERE status = 'pending' AND channel = ? ORDER BY due_at, id LIMIT ?",
                arguments: [channel, limit - records.count])
        }
        return records
    }

    /// When the next notification pending on `channel` is due (nil when none waits).
    public static func nextDue(channel: ChannelName, in db: Database) throws -> Date? {
        try String.fetchOne(
            db.cachedStatement(sql: "SELECT due_at FROM notifications WHERE status = 'pending' AND channel = ? ORDER BY due_at LIMIT 1"),
            arguments: [channel.rawValue]
        ).flatMap(MessageCoding.parse)
    }

    /// Notifications about a registration (to `email` only, if given) not sent yet are withdrawn:
    /// those pending, and those being sent (a failed outcome, when it comes, leaves them cancelled;
    /// a send that went through is recorded sent, as it was).
    public static func cancelUnsent(
        registrationID: String, email: String? = nil, except kinds: Set<NotificationKind>,
        because reason: String = "the registration was cancelled",
        in db: Database
    ) throws -> Int {
        let unsent = [NotificationRecord.Status.pending, .sending].map(\.rawValue)
        var request = NotificationRecord.filter(Column("registration_id") == registrationID && unsent.contains(Column("status")))
        if let email { request = request.filter(Column("recipient_email") == email.lowercased()) }
        var count = 0
        for var record in try NotificationRecord.records(db, request) where !kinds.contains(record.kind) {
            record.status = .cancelled
            record.lastError = reason
            try record.update(db)
            count += 1
        }
        return count
    }

    /// Claimed notifications that were never sent (the service stopped first): pending again,
    /// their attempt not counted.
    public static func release(_ ids: [String], in db: Database) throws {
        for id in ids {
            try db.cachedStatement(
                sql: """
                    UPDATE notifications SET status = 'pending', attempts = attempts - 1, total_attempts = total_attempts - 1
                        WHERE id = ? AND status = 'sending'
                    """
            ).execute(arguments: [id])
        }
    }

    /// A crash mid-send leaves `sending`: those go again (at least once).
    public static func resetInterrupted(in db: Database) throws -> Int {
        try NotificationRecord.filter(Column("status") == NotificationRecord.Status.sending.rawValue)
            .updateAll(db, Column("status").set(to: NotificationRecord.Status.pending.rawValue))
    }

    /// Erasure: the attempts keep when and how they went, not the relay's words (which may
    /// quote an address).
    public static func eraseAttemptDetails(_ notificationID: String, in db: Database) throws {
        try db.execute(sql: "UPDATE attempts SET detail = NULL WHERE notification_id = ?", arguments: [notificationID])
    }

    public static func recordAttempt(_ attempt: DeliveryAttempt, in db: Database) throws {
        try attempt.insertKept(db)
    }

    public static func attempts(_ notificationID: String, in db: Database) throws -> [DeliveryAttempt] {
        try DeliveryAttempt.records(db, DeliveryAttempt.filter(Column("notification_id") == notificationID).order(Column("id")))
    }

    public static func notifications(registrationID: String, in db: Database) throws -> [NotificationRecord] {
        try NotificationRecord.records(
            db, NotificationRecord.filter(Column("registration_id") == registrationID).order(Column("created_at"), Column("id")))
    }

    public static func notifications(recipient email: String, in db: Database) throws -> [NotificationRecord] {
        try NotificationRecord.records(
            db, NotificationRecord.filter(Column("recipient_email") == email.lowercased()).order(Column("created_at"), Column("id")))
    }

    public static func counts(in db: Database) throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT status, COUNT(*) FROM notifications GROUP BY status") { counts[row[0]] = row[1] }
        return counts
    }
}
