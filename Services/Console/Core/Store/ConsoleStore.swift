import Foundation
import GRDB
import Messages
import ServiceRuntime

/// The console's read model: what the other services announced, kept as the pages read it, and
/// the console's own accounts, sessions, actions and audit log. Everything but the accounts is
/// rebuilt by a replay (`delegation-ops replay --to console`).
public enum ConsoleStore {
    public static func migrate(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("console-1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE events (
                        event_id TEXT PRIMARY KEY, version INTEGER NOT NULL, programme TEXT NOT NULL, received INTEGER NOT NULL
                    );
                    CREATE TABLE registrations (
                        registration_id TEXT PRIMARY KEY,
                        event_id TEXT NOT NULL,
                        reference TEXT NOT NULL,
                        revision INTEGER NOT NULL,
                        status TEXT NOT NULL,
                        organisation TEXT NOT NULL,
                        country TEXT NOT NULL,
                        role TEXT NOT NULL,
                        delegates INTEGER NOT NULL,
                        waitlist_position INTEGER,
                        delegation TEXT NOT NULL,
                        documents TEXT NOT NULL DEFAULT '[]',
                        erased INTEGER NOT NULL DEFAULT 0,
                        updated_at TEXT NOT NULL
                    );
                    CREATE INDEX registrations_event ON registrations (event_id, status);
                    CREATE TABLE history (
                        registration_id TEXT NOT NULL,
                        message_id TEXT NOT NULL,
                        at TEXT NOT NULL,
                        status TEXT NOT NULL,
                        revision INTEGER,
                        detail TEXT,
                        PRIMARY KEY (registration_id, message_id)
                    );
                    CREATE TABLE rejections (
                        message_id TEXT PRIMARY KEY,
                        event_id TEXT,
                        reference TEXT,
                        registration_id TEXT,
                        at TEXT NOT NULL,
                        issues TEXT NOT NULL
                    );
                    CREATE TABLE itineraries (
                        registration_id TEXT PRIMARY KEY,
                        event_id TEXT NOT NULL,
                        plan_version INTEGER NOT NULL,
                        visits INTEGER NOT NULL,
                        meetings INTEGER NOT NULL,
                        items TEXT NOT NULL,
                        unmet TEXT NOT NULL,
                        updated_at TEXT NOT NULL
                    );
                    CREATE INDEX itineraries_event ON itineraries (event_id);
                    CREATE TABLE bus_visits (
                        registration_id TEXT NOT NULL,
                        event_id TEXT NOT NULL,
                        bus_id TEXT NOT NULL,
                        day TEXT NOT NULL,
                        venue_id TEXT NOT NULL,
                        arrival REAL NOT NULL,
                        departure REAL NOT NULL,
                        PRIMARY KEY (registration_id, bus_id, venue_id, arrival)
                    );
                    CREATE INDEX bus_visits_day ON bus_visits (event_id, day, bus_id);
                    CREATE TABLE notifications (
                        notification_id TEXT PRIMARY KEY,
                        registration_id TEXT,
                        kind TEXT NOT NULL,
                        channel TEXT NOT NULL,
                        outcome TEXT NOT NULL,
                        attempts INTEGER NOT NULL,
                        reason TEXT,
                        at TEXT NOT NULL
                    );
                    CREATE INDEX notifications_registration ON notifications (registration_id);
                    CREATE TABLE overrides (
                        override_id TEXT PRIMARY KEY,
                        event_id TEXT NOT NULL,
                        request TEXT NOT NULL,
                        requested_at TEXT,
                        outcome TEXT,
                        reason TEXT,
                        cost REAL,
                        decided_at TEXT
                    );
                    CREATE TABLE reoptimisations (
                        request_id TEXT PRIMARY KEY,
                        event_id TEXT NOT NULL,
                        outcome TEXT NOT NULL,
                        reason TEXT,
                        value_before REAL NOT NULL,
                        value_after REAL NOT NULL,
                        moved TEXT NOT NULL,
                        decided_at TEXT NOT NULL
                    );
                    CREATE TABLE actions (
                        action_id TEXT PRIMARY KEY,
                        kind TEXT NOT NULL,
                        subject TEXT NOT NULL,
                        account TEXT NOT NULL,
                        requested_at TEXT NOT NULL,
                        status TEXT NOT NULL,
                        outcome TEXT
                    );
                    CREATE INDEX actions_subject ON actions (kind, subject);
                    CREATE TABLE accounts (
                        name TEXT PRIMARY KEY,
                        role TEXT NOT NULL,
                        password TEXT NOT NULL,
                        created_at TEXT NOT NULL
                    );
                    CREATE TABLE sessions (
                        token_hash TEXT PRIMARY KEY,
                        account TEXT NOT NULL REFERENCES accounts (name) ON DELETE CASCADE,
                        csrf TEXT NOT NULL,
                        created_at TEXT NOT NULL,
                        expires_at TEXT NOT NULL
                    );
                    CREATE TABLE login_failures (key TEXT NOT NULL, at TEXT NOT NULL);
                    CREATE INDEX login_failures_key ON login_failures (key, at);
                    CREATE TABLE audit (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        at TEXT NOT NULL,
                        account TEXT NOT NULL,
                        action TEXT NOT NULL,
                        subject TEXT,
                        outcome TEXT NOT NULL
                    );
                    """)
        }
        // Identity documents, sealed to the console's own key (never in plain text), for the
        // manifests of accounts granted personal data; and that grant.
        migrator.registerMigration("console-2") { db in
            try db.execute(
                sql: """
                    ALTER TABLE registrations ADD COLUMN sealed_documents TEXT;
                    ALTER TABLE accounts ADD COLUMN personal_data INTEGER NOT NULL DEFAULT 0;
                    """)
        }
        // The day itself: who boarded which bus where, who arrived at which gate.
        migrator.registerMigration("console-3") { db in
            try db.execute(
                sql: """
                    CREATE TABLE checkins (
                        checkin_id TEXT PRIMARY KEY,
                        event_id TEXT NOT NULL,
                        registration_id TEXT NOT NULL,
                        person INTEGER NOT NULL,
                        kind TEXT NOT NULL,
                        day TEXT NOT NULL,
                        bus_id TEXT,
                        venue_id TEXT,
                        method TEXT NOT NULL,
                        marshal TEXT NOT NULL,
                        scanned_at REAL NOT NULL
                    );
                    CREATE INDEX checkins_place ON checkins (event_id, day, bus_id, venue_id);
                    CREATE INDEX checkins_person ON checkins (registration_id, person);
                    """)
        }
        migrator.registerMigration("console-4") { db in
            try db.execute(
                sql: """
                    CREATE TABLE missing_alerts (
                        alert_id TEXT PRIMARY KEY,
                        event_id TEXT NOT NULL,
                        registration_id TEXT NOT NULL,
                        day TEXT NOT NULL,
                        bus_id TEXT NOT NULL,
                        persons TEXT NOT NULL,
                        departure REAL NOT NULL,
                        raised_at REAL NOT NULL
                    );
                    CREATE INDEX missing_alerts_registration ON missing_alerts (registration_id, day);
                    CREATE TABLE absences (
                        registration_id TEXT NOT NULL,
                        day TEXT NOT NULL,
                        person INTEGER NOT NULL,
                        event_id TEXT NOT NULL,
                        decline_id TEXT NOT NULL,
                        source TEXT NOT NULL,
                        declined_at REAL NOT NULL,
                        PRIMARY KEY (registration_id, day, person)
                    );
                    CREATE INDEX absences_day ON absences (event_id, day);
                    """)
        }
    }

    // MARK: Writing what the services announce

    static func saveProgramme(_ programme: ProgrammePublished, in db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO events (event_id, version, programme, received)
                VALUES (?, ?, ?, (SELECT coalesce(max(received), 0) + 1 FROM events))
                ON CONFLICT (event_id) DO UPDATE SET version = excluded.version, programme = excluded.programme,
                    received = excluded.received
                WHERE excluded.version >= events.version
                """,
            arguments: [programme.eventID, programme.version, try json(programme)])
    }

    /// A registration's state as its latest message says: a later revision, or the same one
    /// later. A cancellation always applies and stays until a decision made after it (a
    /// resubmission); an erased registration's people stay erased whatever arrives. Whether each
    /// person has an identity document is kept, and the documents themselves only as
    /// `sealedDocuments` (sealed to the console's key), which a cancellation drops.
    static func saveRegistration(
        id: String, eventID: String, reference: String, revision: Int, status: RegistrationStatus, delegation: Delegation,
        waitlistPosition: Int?, at: Date, sealedDocuments: [SealedDocument?]? = nil, in db: Database
    ) throws {
        try db.execute(
            sql: """
                INSERT INTO registrations (registration_id, event_id, reference, revision, status, organisation, country, role,
                    delegates, waitlist_position, delegation, documents, sealed_documents, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (registration_id) DO UPDATE SET revision = max(excluded.revision, registrations.revision),
                    status = excluded.status, organisation = excluded.organisation, country = excluded.country,
                    role = excluded.role, delegates = excluded.delegates, waitlist_position = excluded.waitlist_position,
                    delegation = CASE WHEN registrations.erased = 1 THEN registrations.delegation ELSE excluded.delegation END,
                    documents = CASE WHEN registrations.erased = 1 THEN registrations.documents ELSE excluded.documents END,
                    sealed_documents = CASE WHEN registrations.erased = 1 THEN NULL ELSE excluded.sealed_documents END,
                    updated_at = excluded.updated_at
                WHERE excluded.status = 'cancelled'
                    OR (registrations.status = 'cancelled' AND excluded.updated_at > registrations.updated_at)
                    OR (registrations.status != 'cancelled' AND (excluded.revision > registrations.revision
                        OR (excluded.revision = registrations.revision AND excluded.updated_at >= registrations.updated_at)))
                """,
            arguments: [
                id, eventID, reference, revision, status.rawValue, delegation.organisation.name, delegation.organisation.country,
                delegation.role.rawValue, delegation.delegates.count, waitlistPosition, try json(delegation.withoutIdentityDocuments),
                try json(delegation.delegates.map(\.hasIdentityDocument)),
                status == .cancelled ? nil : try sealedDocuments.map(json), MessageCoding.formatSortable(at),
            ])
    }

    /// A step of a registration's history; its detail (a reason in someone's words) is not kept
    /// for an erased registration.
    static func addHistory(
        registrationID: String, messageID: String, at: Date, status: String, revision: Int?, detail: String?, in db: Database
    ) throws {
        try db.execute(
            sql: """
                INSERT OR IGNORE INTO history (registration_id, message_id, at, status, revision, detail)
                VALUES (?, ?, ?, ?, ?, CASE WHEN EXISTS (SELECT 1 FROM registrations WHERE registration_id = ? AND erased = 1)
                    THEN NULL ELSE ? END)
                """,
            arguments: [registrationID, messageID, MessageCoding.formatSortable(at), status, revision, registrationID, detail])
    }

    static func saveRejection(_ rejected: RegistrationRejected, messageID: String, in db: Database) throws {
        try db.execute(
            sql:
                "INSERT OR IGNORE INTO rejections (message_id, event_id, reference, registration_id, at, issues) VALUES (?, ?, ?, ?, ?, ?)",
            arguments: [
                messageID, rejected.eventID, rejected.reference, rejected.registrationID, MessageCoding.formatSortable(rejected.rejectedAt),
                try json(rejected.issues),
            ])
    }

    /// A delegation's itinerary, unless a later plan version is kept already; its visits by bus
    /// and day (in `timeZone`, the event's) go to `bus_visits`, which the plan pages read.
    static func saveItinerary(
        registrationID: String, eventID: String, version: Int, timeZone: String, items: [ItineraryItem], unmet: [UnmetPreference],
        at: Date, in db: Database
    ) throws {
        try db.execute(
            sql: """
                INSERT INTO itineraries (registration_id, event_id, plan_version, visits, meetings, items, unmet, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (registration_id) DO UPDATE SET plan_version = excluded.plan_version, visits = excluded.visits,
                    meetings = excluded.meetings, items = excluded.items, unmet = excluded.unmet, updated_at = excluded.updated_at
                WHERE excluded.plan_version >= itineraries.plan_version
                """,
            arguments: [
                registrationID, eventID, version, items.count { $0.kind == .visit }, items.count { $0.kind == .meeting }, try json(items),
                try json(unmet), MessageCoding.formatSortable(at),
            ])
        guard db.changesCount > 0 else { return }
        try db.execute(sql: "DELETE FROM bus_visits WHERE registration_id = ?", arguments: [registrationID])
        let clock = EventClock(zone: timeZone)
        for item in items where item.kind == .visit {
            guard let bus = item.busID, let venue = item.venueID else { continue }
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO bus_visits (registration_id, event_id, bus_id, day, venue_id, arrival, departure)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    registrationID, eventID, bus, clock.day(item.start), venue, item.start.timeIntervalSince1970,
                    item.end.timeIntervalSince1970,
                ])
        }
    }

    static func saveNotification(
        id: String, registrationID: String?, kind: NotificationKind, channel: ChannelName, outcome: String, attempts: Int,
        reason: String?, at: Date, in db: Database
    ) throws {
        try db.execute(
            sql: """
                INSERT INTO notifications (notification_id, registration_id, kind, channel, outcome, attempts, reason, at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (notification_id) DO UPDATE SET outcome = excluded.outcome, attempts = excluded.attempts,
                    reason = excluded.reason, at = excluded.at, channel = excluded.channel
                WHERE excluded.at >= notifications.at
                """,
            arguments: [id, registrationID, kind.rawValue, channel.rawValue, outcome, attempts, reason, MessageCoding.formatSortable(at)])
    }

    /// An override as requested. The same request again (the console's own copy from the broker,
    /// a replay) keeps its decision; a new request for the same id waits for a new one.
    static func saveOverrideRequest(_ request: PlanOverrideRequested, in db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO overrides (override_id, event_id, request, requested_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (override_id) DO UPDATE SET request = excluded.request, requested_at = excluded.requested_at,
                    outcome = CASE WHEN overrides.requested_at IS excluded.requested_at THEN overrides.outcome END,
                    reason = CASE WHEN overrides.requested_at IS excluded.requested_at THEN overrides.reason END,
                    cost = CASE WHEN overrides.requested_at IS excluded.requested_at THEN overrides.cost END,
                    decided_at = CASE WHEN overrides.requested_at IS excluded.requested_at THEN overrides.decided_at END
                """,
            arguments: [request.overrideID, request.eventID, try json(request), request.requestedAt.map(MessageCoding.formatSortable)])
    }

    /// The planner's decision, also when it arrives before the console has the request.
    static func saveOverrideDecision(_ decided: PlanOverrideDecided, in db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO overrides (override_id, event_id, request, outcome, reason, cost, decided_at) VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (override_id) DO UPDATE SET outcome = excluded.outcome, reason = excluded.reason, cost = excluded.cost,
                    decided_at = excluded.decided_at
                """,
            arguments: [
                decided.overrideID, decided.eventID,
                try json(PlanOverrideRequested(eventID: decided.eventID, overrideID: decided.overrideID, kind: nil)),
                decided.outcome.rawValue, decided.reason, decided.cost, MessageCoding.formatSortable(decided.decidedAt),
            ])
    }

    static func saveReoptimisation(_ answer: PlanReoptimised, in db: Database) throws {
        try db.execute(
            // A refused apply keeps the preview's figures.
            sql: """
                INSERT INTO reoptimisations (request_id, event_id, outcome, reason, value_before, value_after, moved, decided_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (request_id) DO UPDATE SET outcome = excluded.outcome, reason = excluded.reason,
                    decided_at = excluded.decided_at,
                    value_before = CASE WHEN excluded.outcome = 'refused' THEN value_before ELSE excluded.value_before END,
                    value_after = CASE WHEN excluded.outcome = 'refused' THEN value_after ELSE excluded.value_after END,
                    moved = CASE WHEN excluded.outcome = 'refused' THEN moved ELSE excluded.moved END
                """,
            arguments: [
                answer.requestID, answer.eventID, answer.outcome.rawValue, answer.reason, answer.valueBefore, answer.valueAfter,
                try json(answer.moved), MessageCoding.formatSortable(answer.decidedAt),
            ])
    }

    /// Erasure: the registration stays (its status, counts and history) with its people replaced
    /// by placeholders, and nothing that names them is kept (history details and delivery
    /// failures are cleared even without the registration: they may have come first). Whether the
    /// console had anything of it.
    static func erase(registrationID: String, in db: Database) throws -> Bool {
        var found = false
        if let text = try String.fetchOne(
            db, sql: "SELECT delegation FROM registrations WHERE registration_id = ?", arguments: [registrationID])
        {
            try db.execute(
                sql: """
                    UPDATE registrations SET delegation = ?, documents = '[]', sealed_documents = NULL, erased = 1
                    WHERE registration_id = ?
                    """,
                arguments: [try json(try decode(Delegation.self, text).anonymised), registrationID])
            found = true
        }
        try db.execute(sql: "UPDATE history SET detail = NULL WHERE registration_id = ?", arguments: [registrationID])
        found = found || db.changesCount > 0
        try db.execute(sql: "UPDATE notifications SET reason = NULL WHERE registration_id = ?", arguments: [registrationID])
        return found || db.changesCount > 0
    }

    // MARK: Check-ins

    /// Keeps a check-in once (the console's own, and its copy from the broker or a replay).
    static func saveCheckin(_ checkin: CheckinRecorded, in db: Database) throws {
        try db.execute(
            sql: """
                INSERT OR IGNORE INTO checkins (checkin_id, event_id, registration_id, person, kind, day, bus_id, venue_id, method,
                    marshal, scanned_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                checkin.checkinID, checkin.eventID, checkin.registrationID, checkin.person, checkin.kind.rawValue, checkin.day,
                checkin.busID, checkin.venueID, checkin.method.rawValue, checkin.marshal, checkin.scannedAt.timeIntervalSince1970,
            ])
    }

    /// An alert raised (by this console, or its copy from the broker or a replay), kept once.
    static func saveAlert(_ alert: BoardingMissed, in db: Database) throws {
        try db.execute(
            sql: """
                INSERT OR IGNORE INTO missing_alerts (alert_id, event_id, registration_id, day, bus_id, persons, departure, raised_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                alert.alertID, alert.eventID, alert.registrationID, alert.day, alert.busID,
                alert.persons.map(String.init).joined(separator: ","), alert.departure.timeIntervalSince1970,
                alert.raisedAt.timeIntervalSince1970,
            ])
    }

    /// People who will not come that day; the first answer for a person stands.
    static func saveAbsence(_ declined: AttendanceDeclined, in db: Database) throws {
        for person in declined.persons {
            try db.execute(
                sql: """
                    INSERT OR IGNORE INTO absences (registration_id, day, person, event_id, decline_id, source, declined_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    declined.registrationID, declined.day, person, declined.eventID, declined.declineID, declined.source.rawValue,
                    declined.declinedAt.timeIntervalSince1970,
                ])
        }
    }

    // MARK: Actions awaiting their answer

    static func recordAction(_ action: ConsoleAction, in db: Database) throws {
        try db.execute(
            sql: "INSERT INTO actions (action_id, kind, subject, account, requested_at, status) VALUES (?, ?, ?, ?, ?, 'sent')",
            arguments: [action.id, action.kind.rawValue, action.subject, action.account, MessageCoding.formatSortable(action.requestedAt)])
    }

    /// Marks the actions of `kind` on `subject` still waiting as answered.
    static func answer(kind: ConsoleAction.Kind, subject: String, status: ConsoleAction.Status, outcome: String, in db: Database) throws {
        try db.execute(
            sql: "UPDATE actions SET status = ?, outcome = ? WHERE kind = ? AND subject = ? AND status = 'sent'",
            arguments: [status.rawValue, outcome, kind.rawValue, subject])
    }

    static func actions(limit: Int = 50, in db: Database) throws -> [ConsoleAction] {
        try Row.fetchAll(db, sql: "SELECT * FROM actions ORDER BY requested_at DESC LIMIT ?", arguments: [limit]).compactMap(
            ConsoleAction.init)
    }

    static func action(_ id: String, in db: Database) throws -> ConsoleAction? {
        try Row.fetchOne(db, sql: "SELECT * FROM actions WHERE action_id = ?", arguments: [id]).flatMap(ConsoleAction.init)
    }

    // MARK: Coding

    static func json<T: Encodable>(_ value: T) throws -> String { try MessageCoding.encodeText(value) }

    /// What the console wrote itself: decoded without the checks a message from outside gets
    /// (duplicate keys), which cost more than the page.
    static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        try MessageCoding.makeDecoder().decode(type, from: Data(text.utf8))
    }
}

/// Where a registration stands, as the console shows it.
public enum RegistrationStatus: String, Sendable, Codable, CaseIterable {
    case accepted, waitlisted, cancelled
}

/// Something an organiser asked for, published as a command message, and what came of it once
/// the answering event arrived.
public struct ConsoleAction: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case cancel, override, reoptimise, apply, resend
    }

    public enum Status: String, Sendable {
        case sent, done, refused
    }

    public var id: String
    public var kind: Kind
    /// What it is about: the registration (cancel), the override id, the request id, the
    /// notification copy's id (resend).
    public var subject: String
    public var account: String
    public var requestedAt: Date
    public var status: Status = .sent
    public var outcome: String?

    /// A new action, with an id of its own (which correlates its command message).
    init(kind: Kind, subject: String, account: String, requestedAt: Date) {
        self.init(
            id: "action-\(Accounts.randomToken().prefix(16))", kind: kind, subject: subject, account: account, requestedAt: requestedAt)
    }

    init(id: String, kind: Kind, subject: String, account: String, requestedAt: Date) {
        self.id = id
        self.kind = kind
        self.subject = subject
        self.account = account
        self.requestedAt = requestedAt
    }

    init?(row: Row) {
        guard let kind = Kind(rawValue: row["kind"]), let status = Status(rawValue: row["status"]),
            let requestedAt = MessageCoding.parse(row["requested_at"])
        else { return nil }
        self.init(id: row["action_id"], kind: kind, subject: row["subject"], account: row["account"], requestedAt: requestedAt)
        self.status = status
        outcome = row["outcome"]
    }
}
