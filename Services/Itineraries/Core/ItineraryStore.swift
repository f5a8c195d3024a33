import Foundation
import GRDB
import ItineraryPlanner
import Messages
import ServiceRuntime

/// The itineraries service's tables: programmes, delegations (with sealed identity documents
/// for access lists), plan versions, what each delegation was last told, and events waiting to
/// be re-planned.
public enum ItineraryStore {
    public static func migrate(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("itineraries-1") { db in
            try db.execute(sql: """
                CREATE TABLE programmes (
                    event_id TEXT PRIMARY KEY,
                    version INTEGER NOT NULL,
                    body TEXT NOT NULL
                );
                CREATE TABLE delegations (
                    registration_id TEXT PRIMARY KEY,
                    event_id TEXT NOT NULL,
                    revision INTEGER NOT NULL,
                    active INTEGER NOT NULL,
                    planning TEXT NOT NULL,
                    correlation_id TEXT,
                    identity_key_id TEXT,
                    identity_ciphertext BLOB,
                    updated_at TEXT NOT NULL
                );
                CREATE INDEX delegations_event ON delegations(event_id, active);
                CREATE TABLE plans (
                    event_id TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    body TEXT NOT NULL,
                    created_at TEXT NOT NULL,
                    PRIMARY KEY (event_id, version)
                );
                CREATE TABLE itineraries (
                    event_id TEXT NOT NULL,
                    registration_id TEXT NOT NULL,
                    plan_version INTEGER NOT NULL,
                    items TEXT NOT NULL,
                    PRIMARY KEY (event_id, registration_id)
                );
                CREATE TABLE dirty (
                    event_id TEXT PRIMARY KEY,
                    since TEXT NOT NULL,
                    last_change TEXT NOT NULL
                );
                """)
        }
        migrator.registerMigration("itineraries-2") { db in
            // Items taken out of a delegation's itinerary, for the METHOD:CANCEL calendar.
            try db.execute(sql: "ALTER TABLE itineraries ADD COLUMN withdrawn TEXT NOT NULL DEFAULT '[]'")
        }
    }

    // MARK: Programmes

    public static func programme(_ eventID: String, in db: Database) throws -> ProgrammePublished? {
        guard let body = try String.fetchOne(db, sql: "SELECT body FROM programmes WHERE event_id = ?", arguments: [eventID]) else { return nil }
        return try MessageCoding.decode(ProgrammePublished.self, fromText: body)
    }

    public static func save(_ programme: ProgrammePublished, in db: Database) throws {
        try db.execute(
            sql: "INSERT INTO programmes (event_id, version, body) VALUES (?, ?, ?) ON CONFLICT(event_id) DO UPDATE SET version = excluded.version, body = excluded.body",
            arguments: [programme.eventID, programme.version, try MessageCoding.encodeText(programme)])
    }

    // MARK: Delegations

    public struct StoredDelegation: Sendable {
        public var planning: PlanningDelegation
        public var eventID: String
        public var revision: Int
        public var active: Bool
        public var correlationID: String?
    }

    public static func delegation(_ registrationID: String, in db: Database) throws -> StoredDelegation? {
        try Row.fetchOne(db, sql: "SELECT * FROM delegations WHERE registration_id = ?", arguments: [registrationID]).map(stored)
    }

    public static func activeDelegations(eventID: String, in db: Database) throws -> [StoredDelegation] {
        try Row.fetchAll(db, sql: "SELECT * FROM delegations WHERE event_id = ? AND active = 1 ORDER BY registration_id", arguments: [eventID]).map(stored)
    }

    public static func save(_ delegation: StoredDelegation, sealed: (keyID: String, ciphertext: Data)?, in db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO delegations (registration_id, event_id, revision, active, planning, correlation_id, identity_key_id, identity_ciphertext, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(registration_id) DO UPDATE SET event_id = excluded.event_id, revision = excluded.revision, active = excluded.active,
                    planning = excluded.planning, correlation_id = excluded.correlation_id, identity_key_id = excluded.identity_key_id,
                    identity_ciphertext = excluded.identity_ciphertext, updated_at = excluded.updated_at
                """,
            arguments: [
                delegation.planning.id, delegation.eventID, delegation.revision, delegation.active ? 1 : 0,
                try MessageCoding.encodeText(delegation.planning), delegation.correlationID,
                sealed?.keyID, sealed?.ciphertext, MessageCoding.format(Date()),
            ])
    }

    public static func identity(_ registrationID: String, in db: Database) throws -> (keyID: String, ciphertext: Data)? {
        guard let row = try Row.fetchOne(db, sql: "SELECT identity_key_id, identity_ciphertext FROM delegations WHERE registration_id = ?", arguments: [registrationID]),
            let keyID: String = row[0], let ciphertext: Data = row[1]
        else { return nil }
        return (keyID, ciphertext)
    }

    private static func stored(_ row: Row) throws -> StoredDelegation {
        let planning: String = row["planning"]
        return StoredDelegation(
            planning: try MessageCoding.decode(PlanningDelegation.self, fromText: planning), eventID: row["event_id"], revision: row["revision"],
            active: (row["active"] as Int) == 1, correlationID: row["correlation_id"])
    }

    // MARK: Plans and itineraries

    public static func latestPlan(eventID: String, in db: Database) throws -> (version: Int, plan: Plan)? {
        guard let row = try Row.fetchOne(db, sql: "SELECT version, body FROM plans WHERE event_id = ? ORDER BY version DESC LIMIT 1", arguments: [eventID]) else { return nil }
        let body: String = row[1]
        return (row[0], try MessageCoding.decode(Plan.self, fromText: body))
    }

    public static func savePlan(_ plan: Plan, version: Int, in db: Database) throws {
        try db.execute(
            sql: "INSERT INTO plans (event_id, version, body, created_at) VALUES (?, ?, ?, ?)",
            arguments: [plan.eventID, version, try MessageCoding.encodeText(plan), MessageCoding.format(Date())])
    }

    /// What a delegation was last told: its items, and those withdrawn since the first plan.
    public struct Told: Sendable {
        public var version: Int
        public var items: [ItineraryItem]
        public var withdrawn: [ItineraryItem]
    }

    public static func told(eventID: String, in db: Database) throws -> [String: Told] {
        var result: [String: Told] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT registration_id, plan_version, items, withdrawn FROM itineraries WHERE event_id = ?", arguments: [eventID]) {
            let items: String = row[2], withdrawn: String = row[3]
            result[row[0]] = Told(
                version: row[1], items: try MessageCoding.decode([ItineraryItem].self, fromText: items),
                withdrawn: try MessageCoding.decode([ItineraryItem].self, fromText: withdrawn))
        }
        return result
    }

    public static func saveTold(eventID: String, registrationID: String, _ told: Told, in db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO itineraries (event_id, registration_id, plan_version, items, withdrawn) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT(event_id, registration_id) DO UPDATE SET plan_version = excluded.plan_version, items = excluded.items, withdrawn = excluded.withdrawn
                """,
            arguments: [
                eventID, registrationID, told.version, try MessageCoding.encodeText(told.items),
                try MessageCoding.encodeText(told.withdrawn),
            ])
    }

    // MARK: Re-planning queue

    public static func markDirty(_ eventID: String, in db: Database) throws {
        let now = MessageCoding.format(Date())
        try db.execute(
            sql: "INSERT INTO dirty (event_id, since, last_change) VALUES (?, ?, ?) ON CONFLICT(event_id) DO UPDATE SET last_change = excluded.last_change",
            arguments: [eventID, now, now])
    }

    /// Events whose last change is `debounce` seconds old, or whose first is `maxWait` old.
    public static func due(debounce: Double, maxWait: Double, in db: Database) throws -> [String] {
        let now = Date()
        return try Row.fetchAll(db, sql: "SELECT event_id, since, last_change FROM dirty ORDER BY since").compactMap { row in
            let since = MessageCoding.parse(row[1] as String) ?? now
            let last = MessageCoding.parse(row[2] as String) ?? now
            return now.timeIntervalSince(last) >= debounce || now.timeIntervalSince(since) >= maxWait ? row[0] : nil
        }
    }

    public static func clearDirty(_ eventID: String, in db: Database) throws {
        try db.execute(sql: "DELETE FROM dirty WHERE event_id = ?", arguments: [eventID])
    }
}
