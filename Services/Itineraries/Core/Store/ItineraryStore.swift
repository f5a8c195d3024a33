import Foundation
import GRDB
import ItineraryPlanner
import Messages
import ServiceRuntime

/// The itineraries service's tables: programmes, delegations (and their sealed identity
/// documents, for access lists), cancellations, plan versions, what each delegation was last
/// told, and what each event's plan was last made from.
public enum ItineraryStore {
    public static func migrate(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("itineraries-1") { db in
            try db.execute(
                sql: """
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
        // Records: times in one sortable form, identity documents in a table of their own, and
        // the re-planning queue as a generation per event (a plan is saved only for the inputs
        // it was made from).
        migrator.registerMigration("itineraries-3") { db in
            try DatabaseMigrator.rewriteTimes(in: db, table: "delegations", key: "registration_id", columns: ["updated_at"])
            try DatabaseMigrator.rewriteTimes(in: db, table: "plans", key: "rowid", columns: ["created_at"])
            try DatabaseMigrator.rewriteTimes(in: db, table: "dirty", key: "event_id", columns: ["since", "last_change"])
            try db.execute(
                sql: """
                    CREATE TABLE delegation_identities (
                        registration_id TEXT PRIMARY KEY REFERENCES delegations(registration_id) ON DELETE CASCADE,
                        key_id TEXT NOT NULL,
                        ciphertext BLOB NOT NULL
                    );
                    INSERT INTO delegation_identities (registration_id, key_id, ciphertext)
                        SELECT registration_id, identity_key_id, identity_ciphertext FROM delegations
                        WHERE identity_key_id IS NOT NULL AND identity_ciphertext IS NOT NULL;
                    ALTER TABLE delegations DROP COLUMN identity_key_id;
                    ALTER TABLE delegations DROP COLUMN identity_ciphertext;
                    CREATE TABLE plan_inputs (
                        event_id TEXT PRIMARY KEY,
                        generation INTEGER NOT NULL CHECK (generation >= 0),
                        planned_generation INTEGER NOT NULL CHECK (planned_generation BETWEEN 0 AND generation),
                        first_change TEXT,
                        last_change TEXT,
                        CHECK ((first_change IS NULL) = (last_change IS NULL))
                    );
                    INSERT INTO plan_inputs (event_id, generation, planned_generation, first_change, last_change)
                        SELECT event_id, 1, 0, since, last_change FROM dirty;
                    DROP TABLE dirty;
                    """)
        }
        // The organisers' overrides and re-optimisation requests.
        migrator.registerMigration("itineraries-4") { db in
            try db.execute(
                sql: """
                    CREATE TABLE plan_overrides (
                        event_id TEXT NOT NULL,
                        override_id TEXT NOT NULL,
                        position INTEGER NOT NULL,
                        status TEXT NOT NULL CHECK (status IN ('pending', 'active')),
                        body TEXT NOT NULL,
                        reason TEXT,
                        requested_by TEXT,
                        cost REAL,
                        correlation_id TEXT,
                        requested_at TEXT NOT NULL,
                        PRIMARY KEY (event_id, override_id)
                    );
                    CREATE TABLE plan_requests (
                        event_id TEXT NOT NULL,
                        request_id TEXT NOT NULL,
                        apply_preview TEXT,
                        status TEXT NOT NULL CHECK (status IN ('pending', 'previewed', 'done')),
                        generation INTEGER,
                        based_on_version INTEGER,
                        body TEXT,
                        correlation_id TEXT,
                        requested_at TEXT NOT NULL,
                        PRIMARY KEY (event_id, request_id)
                    );
                    CREATE INDEX plan_requests_pending ON plan_requests(status, event_id);
                    """)
        }
        // Traces: of each delegation's latest message, and of the change each plan follows.
        migrator.registerMigration("itineraries-5") { db in
            try db.execute(sql: "ALTER TABLE delegations ADD COLUMN trace TEXT; ALTER TABLE plan_inputs ADD COLUMN trace TEXT")
        }
        // Which changes were only new delegations arriving: a plan made while others arrive is
        // still saved (under a steady stream of registrations no plan was, until it stopped).
        migrator.registerMigration("itineraries-6") { db in
            try db.execute(
                sql: """
                    ALTER TABLE plan_inputs ADD COLUMN altered_generation INTEGER NOT NULL DEFAULT 0;
                    UPDATE plan_inputs SET altered_generation = generation;
                    """)
        }
        // Whether the latest change was the last of a batch published together (contract 1.8).
        migrator.registerMigration("itineraries-7") { db in
            try db.execute(sql: "ALTER TABLE plan_inputs ADD COLUMN batch_ended INTEGER NOT NULL DEFAULT 0")
        }
        // Cancellations, also of registrations not accepted here yet (an acceptance that waited for
        // a retry may come after its cancellation). Those handled before are not filled in: when
        // each was made is not stored (a delegation's `updated_at` is when it was handled), and a
        // later guess would hide a registration made again after it.
        migrator.registerMigration("itineraries-8") { db in
            try db.execute(
                sql: """
                    CREATE TABLE cancellations (
                        registration_id TEXT PRIMARY KEY,
                        event_id TEXT NOT NULL,
                        cancelled_at TEXT NOT NULL
                    );
                    """)
        }
        // When the revision kept was accepted: a cancellation that arrives after a registration
        // made again (it waited for a retry) is older than that acceptance and ends nothing.
        migrator.registerMigration("itineraries-9") { db in
            try db.execute(sql: "ALTER TABLE delegations ADD COLUMN accepted_at TEXT")
        }
    }

    // MARK: Programmes

    public static func programme(_ eventID: String, in db: Database) throws -> ProgrammePublished? {
        try ProgrammeRecord.record(db, key: eventID)?.body
    }

    public static func save(_ programme: ProgrammePublished, in db: Database) throws {
        try ProgrammeRecord(eventID: programme.eventID, version: programme.version, body: programme).upsert(db)
    }

    // MARK: Delegations

    public static func delegation(_ registrationID: String, in db: Database) throws -> DelegationRecord? {
        try DelegationRecord.record(db, key: registrationID)
    }

    public static func activeDelegations(eventID: String, in db: Database) throws -> [DelegationRecord] {
        try DelegationRecord.records(
            db, DelegationRecord.filter(Column("event_id") == eventID && Column("active") == true).order(Column("registration_id")))
    }

    /// Saves the delegation and replaces its sealed identity documents (nil removes them).
    public static func save(_ delegation: DelegationRecord, sealed: (keyID: String, ciphertext: Data)?, in db: Database) throws {
        var delegation = delegation
        delegation.updatedAt = Date()
        try delegation.upsertKept(db)
        if let sealed {
            try DelegationIdentity(registrationID: delegation.registrationID, keyID: sealed.keyID, ciphertext: sealed.ciphertext)
                .upsertKept(db)
        } else {
            _ = try DelegationIdentity.deleteOne(db, key: delegation.registrationID)
        }
    }

    public static func identity(_ registrationID: String, in db: Database) throws -> (keyID: String, ciphertext: Data)? {
        try DelegationIdentity.record(db, key: registrationID).map { ($0.keyID, $0.ciphertext) }
    }

    // MARK: Cancellations

    /// The registration's latest cancellation (nil: none heard of).
    static func cancellation(_ registrationID: String, in db: Database) throws -> CancellationRecord? {
        try CancellationRecord.record(db, key: registrationID)
    }

    /// Remembers a cancellation, unless a later one of the same registration is remembered.
    static func save(_ cancellation: CancellationRecord, in db: Database) throws {
        if let known = try Self.cancellation(cancellation.registrationID, in: db), known.cancelledAt >= cancellation.cancelledAt { return }
        try cancellation.upsertKept(db)
    }

    // MARK: Plans and itineraries

    public static func latestPlan(eventID: String, in db: Database) throws -> (version: Int, plan: Plan)? {
        try PlanRecord.record(db, PlanRecord.filter(Column("event_id") == eventID).order(Column("version").desc).limit(1)).map {
            ($0.version, $0.body)
        }
    }

    public static func savePlan(_ plan: Plan, version: Int, in db: Database) throws {
        try PlanRecord(eventID: plan.eventID, version: version, body: plan, createdAt: Date()).insert(db)
    }

    /// What each delegation of the event was last told, by registration id.
    public static func told(eventID: String, in db: Database) throws -> [String: ToldRecord] {
        let records = try ToldRecord.records(db, ToldRecord.filter(Column("event_id") == eventID))
        return Dictionary(records.map { ($0.registrationID, $0) }, uniquingKeysWith: { first, _ in first })
    }

    public static func saveTold(_ told: ToldRecord, in db: Database) throws {
        try told.upsertKept(db)
    }

    // MARK: Overrides and re-optimisation

    /// The event's overrides in arrival order (pending and active).
    static func overrides(eventID: String, in db: Database) throws -> [OverrideRecord] {
        try OverrideRecord.records(db, OverrideRecord.filter(Column("event_id") == eventID).order(Column("position")))
    }

    static func override(eventID: String, id: String, in db: Database) throws -> OverrideRecord? {
        try OverrideRecord.record(db, OverrideRecord.filter(Column("event_id") == eventID && Column("override_id") == id))
    }

    static func save(_ override: OverrideRecord, in db: Database) throws { try override.upsert(db) }

    static func deleteOverride(eventID: String, id: String, in db: Database) throws {
        _ = try OverrideRecord.filter(Column("event_id") == eventID && Column("override_id") == id).deleteAll(db)
    }

    /// The next arrival position for an override of the event.
    static func nextOverridePosition(eventID: String, in db: Database) throws -> Int {
        (try Int.fetchOne(db, sql: "SELECT max(position) FROM plan_overrides WHERE event_id = ?", arguments: [eventID]) ?? 0) + 1
    }

    static func request(eventID: String, id: String, in db: Database) throws -> PlanRequestRecord? {
        try PlanRequestRecord.record(db, PlanRequestRecord.filter(Column("event_id") == eventID && Column("request_id") == id))
    }

    static func save(_ request: PlanRequestRecord, in db: Database) throws { try request.upsert(db) }

    /// Requests waiting for the planning service, oldest first.
    static func pendingRequests(eventID: String? = nil, in db: Database) throws -> [PlanRequestRecord] {
        var filter = Column("status") == PlanRequestRecord.Status.pending.rawValue
        if let eventID { filter = filter && Column("event_id") == eventID }
        return try PlanRequestRecord.records(db, PlanRequestRecord.filter(filter).order(Column("requested_at"), Column("request_id")))
    }

    // MARK: Re-planning

    /// Records that what the event's plan depends on changed at `time`, in `trace`; `arrival`:
    /// the change is only a delegation the event did not have (a plan made without it stays
    /// good for everyone else); `endsBatch`: it was the last of a batch published together, so
    /// the event is due at once (until another change comes after it).
    public static func markChanged(
        _ eventID: String, at time: Date = Date(), trace: TraceContext? = nil, arrival: Bool = false, endsBatch: Bool = false,
        in db: Database
    ) throws {
        var inputs =
            try PlanInputs.record(db, key: eventID)
            ?? PlanInputs(
                eventID: eventID, generation: 0, plannedGeneration: 0, alteredGeneration: 0, firstChange: nil, lastChange: nil,
                batchEnded: false)
        inputs.generation += 1
        if !arrival { inputs.alteredGeneration = inputs.generation }
        inputs.firstChange = inputs.firstChange ?? time
        inputs.lastChange = time
        inputs.batchEnded = endsBatch
        inputs.trace = trace ?? inputs.trace
        try inputs.upsertKept(db)
    }

    /// The events due for planning at `now` with why each is due, and when the next one not yet
    /// due will be.
    public static func planning(now: Date, debounce: Double, maxWait: Double, in db: Database) throws -> (
        due: [String], next: Date?, triggers: [String: PlanTrigger]
    ) {
        let waiting = try PlanInputs.records(
            db, PlanInputs.filter(Column("generation") > Column("planned_generation")).order(Column("first_change")))
        let times = waiting.compactMap { inputs in inputs.due(debounce: debounce, maxWait: maxWait).map { (inputs.eventID, $0) } }
        let ready = times.filter { $0.1.at <= now }
        var due = ready.map(\.0)
        var triggers = Dictionary(ready.map { ($0.0, $0.1.trigger) }, uniquingKeysWith: { first, _ in first })
        // A re-optimisation request is due at once.
        for event in try pendingRequests(in: db).map(\.eventID) where triggers[event] == nil {
            due.append(event)
            triggers[event] = .request
        }
        return (due, times.filter { $0.1.at > now }.map(\.1.at).min(), triggers)
    }

    /// The event's inputs' generation now (0 before any change).
    public static func generation(_ eventID: String, in db: Database) throws -> Int {
        try PlanInputs.record(db, key: eventID)?.generation ?? 0
    }

    /// Whether a plan made from the inputs at `generation` may still be saved: nothing but new
    /// delegations arrived since.
    static func stillCurrent(_ eventID: String, generation: Int, in db: Database) throws -> Bool {
        guard let inputs = try PlanInputs.record(db, key: eventID) else { return generation == 0 }
        return inputs.generation == generation || inputs.alteredGeneration <= generation
    }

    /// The trace of the latest change to the event's inputs.
    static func trace(_ eventID: String, in db: Database) throws -> TraceContext? {
        try PlanInputs.record(db, key: eventID)?.trace
    }

    /// The generation last planned (0 before any plan).
    public static func plannedGeneration(_ eventID: String, in db: Database) throws -> Int {
        try PlanInputs.record(db, key: eventID)?.plannedGeneration ?? 0
    }

    /// Marks the inputs at `generation` planned (later changes still wait).
    public static func markPlanned(_ eventID: String, generation: Int, in db: Database) throws {
        guard var inputs = try PlanInputs.record(db, key: eventID) else { return }
        inputs.plannedGeneration = max(inputs.plannedGeneration, generation)
        if inputs.plannedGeneration == inputs.generation {
            inputs.firstChange = nil
            inputs.lastChange = nil
        }
        try inputs.upsertKept(db)
    }
}
