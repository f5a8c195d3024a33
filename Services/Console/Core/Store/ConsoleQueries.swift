import Foundation
import GRDB
import Messages

/// What the pages read from the read model.
public enum ConsoleQueries {
    public struct Counts: Sendable, Equatable {
        public var accepted = 0
        public var waitlisted = 0
        public var cancelled = 0
        public var rejected = 0
        public var delegatesAccepted = 0
        public var withItinerary = 0
        public var meetings = 0
        public var notificationsDelivered = 0
        public var notificationsFailed = 0
        public var overridesPending = 0
        public var overridesRefused = 0
    }

    public struct RegistrationRow: Sendable, Equatable {
        public var registrationID: String
        public var reference: String
        public var status: RegistrationStatus
        public var organisation: String
        public var country: String
        public var role: String
        public var delegates: Int
        public var waitlistPosition: Int?
        public var erased: Bool
        public var updatedAt: Date
    }

    public struct Registration: Sendable, Equatable {
        public var row: RegistrationRow
        public var eventID: String
        public var revision: Int
        /// Without identity documents (the console keeps none).
        public var delegation: Delegation
        /// Whether each delegate (by position) has an identity document on file.
        public var documents: [Bool]
        public var history: [HistoryEntry]
        public var itinerary: Itinerary?
        public var notifications: [NotificationRow]
    }

    public struct HistoryEntry: Sendable, Equatable {
        public var at: Date
        public var status: String
        public var revision: Int?
        public var detail: String?
    }

    public struct Itinerary: Sendable, Equatable {
        public var planVersion: Int
        public var items: [ItineraryItem]
        public var unmet: [UnmetPreference]
    }

    public struct NotificationRow: Sendable, Equatable {
        public var notificationID: String
        public var kind: String
        public var channel: String
        public var outcome: String
        public var attempts: Int
        public var reason: String?
        public var at: Date
    }

    /// The event the console shows: the one configured, else the last programme received.
    public static func programme(eventID: String?, in db: Database) throws -> ProgrammePublished? {
        let text: String?
        if let eventID {
            text = try String.fetchOne(db, sql: "SELECT programme FROM events WHERE event_id = ?", arguments: [eventID])
        } else {
            text = try String.fetchOne(db, sql: "SELECT programme FROM events ORDER BY received DESC LIMIT 1")
        }
        return try text.map { try ConsoleStore.decode(ProgrammePublished.self, $0) }
    }

    public static func counts(eventID: String, in db: Database) throws -> Counts {
        var counts = Counts()
        for row in try Row.fetchAll(
            db, sql: "SELECT status, COUNT(*) AS n, SUM(delegates) AS people FROM registrations WHERE event_id = ? GROUP BY status",
            arguments: [eventID])
        {
            let n: Int = row["n"]
            switch RegistrationStatus(rawValue: row["status"]) {
            case .accepted?:
                counts.accepted = n
                counts.delegatesAccepted = row["people"]
            case .waitlisted?: counts.waitlisted = n
            case .cancelled?: counts.cancelled = n
            case nil: break
            }
        }
        counts.rejected = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM rejections WHERE event_id = ?", arguments: [eventID]) ?? 0
        if let row = try Row.fetchOne(
            db, sql: "SELECT SUM(visits > 0) AS toured, SUM(meetings) AS meetings FROM itineraries WHERE event_id = ?",
            arguments: [eventID])
        {
            counts.withItinerary = row["toured"] ?? 0
            counts.meetings = (row["meetings"] ?? 0) / 2  // each meeting is in both companies' itineraries
        }
        for row in try Row.fetchAll(
            db, sql: "SELECT outcome, COUNT(*) AS n FROM notifications WHERE \(ofEvent) GROUP BY outcome", arguments: [eventID])
        {
            if row["outcome"] == "delivered" { counts.notificationsDelivered = row["n"] } else { counts.notificationsFailed = row["n"] }
        }
        counts.overridesPending =
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM overrides WHERE event_id = ? AND outcome IS NULL", arguments: [eventID]) ?? 0
        counts.overridesRefused =
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM overrides WHERE event_id = ? AND outcome = 'refused'", arguments: [eventID])
            ?? 0
        return counts
    }

    /// Registrations of the event, filtered by status and by a search in the organisation's name,
    /// country or reference (case-insensitive).
    public static func registrations(
        eventID: String, status: RegistrationStatus?, search: String?, page: (size: Int, index: Int)? = nil, in db: Database
    ) throws -> [RegistrationRow] {
        let (sql, arguments) = registrationsQuery(eventID: eventID, status: status, search: search)
        let limit = page.map { " LIMIT \($0.size) OFFSET \(max(0, $0.index) * $0.size)" } ?? ""
        return try Row.fetchAll(
            db, sql: "SELECT \(summaryColumns) FROM registrations" + sql + " ORDER BY organisation COLLATE NOCASE, reference" + limit,
            arguments: arguments
        ).compactMap(registrationRow)
    }

    /// A registration's summary (not its people, which are the bulk of a row).
    private static let summaryColumns =
        "registration_id, reference, status, organisation, country, role, delegates, waitlist_position, erased, updated_at"

    /// How many registrations `registrations` finds with the same filters.
    public static func registrationCount(eventID: String, status: RegistrationStatus?, search: String?, in db: Database) throws -> Int {
        let (sql, arguments) = registrationsQuery(eventID: eventID, status: status, search: search)
        return try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM registrations" + sql, arguments: arguments) ?? 0
    }

    private static func registrationsQuery(eventID: String, status: RegistrationStatus?, search: String?) -> (String, StatementArguments) {
        var sql = " WHERE event_id = ?"
        var arguments: StatementArguments = [eventID]
        if let status {
            sql += " AND status = ?"
            arguments += [status.rawValue]
        }
        if let search = search?.trimmingCharacters(in: .whitespaces), !search.isEmpty {
            let pattern =
                "%"
                + search.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
                .replacingOccurrences(of: "_", with: "\\_") + "%"
            sql += " AND (organisation LIKE ? ESCAPE '\\' OR reference LIKE ? ESCAPE '\\' OR country LIKE ? ESCAPE '\\')"
            arguments += [pattern, pattern, pattern]
        }
        return (sql, arguments)
    }

    public static func registration(_ registrationID: String, in db: Database) throws -> Registration? {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM registrations WHERE registration_id = ?", arguments: [registrationID]),
            let summary = registrationRow(row)
        else { return nil }
        let history = try Row.fetchAll(
            db, sql: "SELECT * FROM history WHERE registration_id = ? ORDER BY at, rowid", arguments: [registrationID]
        ).map { row in
            HistoryEntry(
                at: MessageCoding.parse(row["at"]) ?? .distantPast, status: row["status"], revision: row["revision"], detail: row["detail"])
        }
        let itinerary = try Row.fetchOne(db, sql: "SELECT * FROM itineraries WHERE registration_id = ?", arguments: [registrationID])
            .map(itinerary)
        return Registration(
            row: summary, eventID: row["event_id"], revision: row["revision"],
            delegation: try ConsoleStore.decode(Delegation.self, row["delegation"]),
            documents: try ConsoleStore.decode([Bool].self, row["documents"]), history: history, itinerary: itinerary,
            notifications: try notifications(registrationID: registrationID, in: db))
    }

    /// The notifications about a registration of the event (a notification names its
    /// registration, not its event).
    private static let ofEvent = "registration_id IN (SELECT registration_id FROM registrations WHERE event_id = ?)"

    /// The latest notifications (at most `limit`) of one registration, or of the event.
    public static func notifications(
        registrationID: String? = nil, eventID: String? = nil, outcome: String? = nil, limit: Int = 500, in db: Database
    ) throws -> [NotificationRow] {
        var sql = "SELECT * FROM notifications WHERE 1 = 1"
        var arguments: StatementArguments = []
        if let eventID {
            sql += " AND \(ofEvent)"
            arguments += [eventID]
        }
        if let registrationID {
            sql += " AND registration_id = ?"
            arguments += [registrationID]
        }
        if let outcome {
            sql += " AND outcome = ?"
            arguments += [outcome]
        }
        return try Row.fetchAll(db, sql: sql + " ORDER BY at DESC LIMIT \(max(1, limit))", arguments: arguments).map { row in
            NotificationRow(
                notificationID: row["notification_id"], kind: row["kind"], channel: row["channel"], outcome: row["outcome"],
                attempts: row["attempts"], reason: row["reason"], at: MessageCoding.parse(row["at"]) ?? .distantPast)
        }
    }

    /// Checked in against expected at each place of a bus's day (its stops) or at a gate.
    public struct CheckinStatus: Sendable, Codable, Equatable {
        public struct Place: Sendable, Codable, Equatable {
            public var venueID: String
            /// People whose itinerary has this stop (or this gate) that day.
            public var expected: Int
            /// Of them, checked in here.
            public var checkedIn: Int
        }
        public var places: [Place]
        /// Everyone expected on the bus (or at the gate) that day, and those checked in anywhere on it.
        public var expected: Int
        public var checkedIn: Int
        /// Who is checked in (`registrationID|person`), by any marshal.
        public var people: [String]
        /// Who will not come that day (not counted as expected, unless they came after all).
        public var declined: [String]
    }

    /// Who is checked in (`registrationID|person`) on a bus that day (at one stop, or any), or at
    /// a venue's gate.
    public static func checkedIn(eventID: String, day: String, bus: String?, venue: String?, in db: Database) throws -> Set<String> {
        var sql = "SELECT registration_id || '|' || person FROM checkins WHERE event_id = ? AND day = ?"
        var arguments: StatementArguments = [eventID, day]
        if let bus {
            sql += " AND bus_id = ?"
            arguments += [bus]
        } else {
            sql += " AND kind = 'arrived'"
        }
        if let venue {
            sql += " AND venue_id = ?"
            arguments += [venue]
        }
        return try String.fetchSet(db, sql: sql, arguments: arguments)
    }

    /// Who will not come on `day`, as `registration|person`.
    public static func absent(eventID: String, day: String, in db: Database) throws -> Set<String> {
        try String.fetchSet(
            db, sql: "SELECT registration_id || '|' || person FROM absences WHERE event_id = ? AND day = ?", arguments: [eventID, day])
    }

    /// The alerts raised for a registration on `day`: bus, departure, and who was missing.
    public static func alerts(registrationID: String, day: String, in db: Database) throws -> [(
        busID: String, departure: Date, persons: [Int]
    )] {
        try Row.fetchAll(
            db, sql: "SELECT bus_id, departure, persons FROM missing_alerts WHERE registration_id = ? AND day = ? ORDER BY departure",
            arguments: [registrationID, day]
        ).map { row in
            (row[0], Date(timeIntervalSince1970: row[1]), (row[2] as String).split(separator: ",").compactMap { Int($0) })
        }
    }

    public static func checkinStatus(eventID: String, day: String, bus: String?, venue: String?, in db: Database) throws -> CheckinStatus {
        let visits = try busVisits(eventID: eventID, day: day, bus: bus, in: db).filter { venue == nil || $0.venueID == venue }
        let delegates = try people(eventID: eventID, only: Set(visits.map(\.registrationID)), in: db).mapValues {
            $0.delegation.delegates.count
        }
        var sql = "SELECT registration_id, person, venue_id FROM checkins WHERE event_id = ? AND day = ?"
        var arguments: StatementArguments = [eventID, day]
        if let bus {
            sql += " AND bus_id = ?"
            arguments += [bus]
        } else if let venue {
            sql += " AND kind = 'arrived' AND venue_id = ?"
            arguments += [venue]
        }
        let rows = try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
            (registration: row[0] as String, person: row[1] as Int, venue: row[2] as String?)
        }
        let venues = visits.sorted { $0.arrival < $1.arrival }.map(\.venueID).reduce(into: [String]()) {
            if !$0.contains($1) { $0.append($1) }
        }
        let places = venues.map { venueID in
            let there = Set(visits.filter { $0.venueID == venueID }.map(\.registrationID))
            return CheckinStatus.Place(
                venueID: venueID, expected: there.reduce(0) { $0 + (delegates[$1] ?? 0) },
                checkedIn: Set(
                    rows.filter { $0.venue == venueID && there.contains($0.registration) }.map { "\($0.registration)|\($0.person)" }
                )
                .count)
        }
        let riders = Set(visits.map(\.registrationID))
        let people = Set(rows.filter { riders.contains($0.registration) }.map { "\($0.registration)|\($0.person)" })
        let declined = try absent(eventID: eventID, day: day, in: db).filter {
            riders.contains(String($0.prefix { $0 != "|" })) && !people.contains($0)
        }
        return CheckinStatus(
            places: places, expected: riders.reduce(0) { $0 + (delegates[$1] ?? 0) } - declined.count, checkedIn: people.count,
            people: people.sorted(), declined: declined.sorted())
    }

    /// An accepted delegation's people as the manifests read them.
    public struct People: Sendable {
        public var reference: String
        public var delegation: Delegation
        /// Whether each person has an identity document.
        public var documents: [Bool]
        /// Each person's document sealed to the console's key, where it keeps them.
        public var sealed: [SealedDocument?]
    }

    /// The people of the event's accepted registrations (or of those named), by registration.
    public static func people(eventID: String, only registrations: Set<String>? = nil, in db: Database) throws -> [String: People] {
        var result: [String: People] = [:]
        var sql = """
            SELECT registration_id, reference, delegation, documents, sealed_documents FROM registrations
            WHERE event_id = ? AND status = 'accepted'
            """
        var arguments: StatementArguments = [eventID]
        if let registrations {
            sql += " AND registration_id IN (\(Array(repeating: "?", count: registrations.count).joined(separator: ", ")))"
            arguments += StatementArguments(registrations.sorted())
        }
        for row in try Row.fetchAll(db, sql: sql, arguments: arguments) {
            let sealed: String? = row["sealed_documents"]
            result[row["registration_id"]] = People(
                reference: row["reference"], delegation: try ConsoleStore.decode(Delegation.self, row["delegation"]),
                documents: try ConsoleStore.decode([Bool].self, row["documents"]),
                sealed: try sealed.map { try ConsoleStore.decode([SealedDocument?].self, $0) } ?? [])
        }
        return result
    }

    /// A delegation's visit on a bus.
    public struct BusVisit: Sendable, Equatable {
        public var registrationID: String
        public var busID: String
        public var day: String
        public var venueID: String
        public var arrival: Date
        public var departure: Date
    }

    /// The visits by bus of `day` (every day if nil), of `bus` (every bus if nil).
    public static func busVisits(
        eventID: String, day: String?, bus: String? = nil, venue: String? = nil, registration: String? = nil, in db: Database
    ) throws -> [BusVisit] {
        // By position, times as seconds since 1970: thousands of rows a page, and a lookup by name
        // or a date parsed from text costs more than the row.
        var sql = "SELECT registration_id, bus_id, day, venue_id, arrival, departure FROM bus_visits WHERE event_id = ?"
        var arguments: StatementArguments = [eventID]
        if let day {
            sql += " AND day = ?"
            arguments += [day]
        }
        if let bus {
            sql += " AND bus_id = ?"
            arguments += [bus]
        }
        if let venue {
            sql += " AND venue_id = ?"
            arguments += [venue]
        }
        if let registration {
            sql += " AND registration_id = ?"
            arguments += [registration]
        }
        return try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
            BusVisit(
                registrationID: row[0], busID: row[1], day: row[2], venueID: row[3], arrival: Date(timeIntervalSince1970: row[4]),
                departure: Date(timeIntervalSince1970: row[5]))
        }
    }

    /// Each registration's organisation and number of people, by registration.
    public static func organisations(eventID: String, in db: Database) throws -> [String: (name: String, people: Int)] {
        var result: [String: (name: String, people: Int)] = [:]
        let rows = try Row.fetchCursor(
            db, sql: "SELECT registration_id, organisation, delegates FROM registrations WHERE event_id = ?", arguments: [eventID])
        while let row = try rows.next() { result[row[0]] = (row[1], row[2]) }
        return result
    }

    /// The buses on the road on `day`.
    public static func buses(eventID: String, day: String, in db: Database) throws -> [String] {
        try String.fetchAll(
            db, sql: "SELECT DISTINCT bus_id FROM bus_visits WHERE event_id = ? AND day = ? ORDER BY bus_id", arguments: [eventID, day])
    }

    /// The days with a bus on the road.
    public static func busDays(eventID: String, in db: Database) throws -> [String] {
        try String.fetchAll(db, sql: "SELECT DISTINCT day FROM bus_visits WHERE event_id = ? ORDER BY day", arguments: [eventID])
    }

    /// The itineraries of the event that have meetings, by registration.
    public static func meetingItineraries(eventID: String, in db: Database) throws -> [String: Itinerary] {
        var result: [String: Itinerary] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT * FROM itineraries WHERE event_id = ? AND meetings > 0", arguments: [eventID]) {
            result[row["registration_id"]] = try itinerary(row)
        }
        return result
    }

    private static func itinerary(_ row: Row) throws -> Itinerary {
        Itinerary(
            planVersion: row["plan_version"], items: try ConsoleStore.decode([ItineraryItem].self, row["items"]),
            unmet: try ConsoleStore.decode([UnmetPreference].self, row["unmet"]))
    }

    public struct Override: Sendable, Equatable {
        public var request: PlanOverrideRequested
        public var outcome: String?
        public var reason: String?
        public var cost: Double?
    }

    public static func overrides(eventID: String, in db: Database) throws -> [Override] {
        try Row.fetchAll(db, sql: "SELECT * FROM overrides WHERE event_id = ? ORDER BY override_id", arguments: [eventID]).map { row in
            Override(
                request: try ConsoleStore.decode(PlanOverrideRequested.self, row["request"]), outcome: row["outcome"],
                reason: row["reason"],
                cost: row["cost"])
        }
    }

    public struct Reoptimisation: Sendable, Equatable {
        public var requestID: String
        public var outcome: String
        public var reason: String?
        public var valueBefore: Double
        public var valueAfter: Double
        public var moved: [String]
        public var decidedAt: Date
    }

    public static func reoptimisations(eventID: String, in db: Database) throws -> [Reoptimisation] {
        try Row.fetchAll(
            db, sql: "SELECT * FROM reoptimisations WHERE event_id = ? ORDER BY decided_at DESC LIMIT 20", arguments: [eventID]
        )
        .map { row in
            Reoptimisation(
                requestID: row["request_id"], outcome: row["outcome"], reason: row["reason"], valueBefore: row["value_before"],
                valueAfter: row["value_after"], moved: try ConsoleStore.decode([String].self, row["moved"]),
                decidedAt: MessageCoding.parse(row["decided_at"]) ?? .distantPast)
        }
    }

    private static func registrationRow(_ row: Row) -> RegistrationRow? {
        guard let status = RegistrationStatus(rawValue: row["status"]) else { return nil }
        return RegistrationRow(
            registrationID: row["registration_id"], reference: row["reference"], status: status, organisation: row["organisation"],
            country: row["country"], role: row["role"], delegates: row["delegates"], waitlistPosition: row["waitlist_position"],
            erased: row["erased"], updatedAt: MessageCoding.parse(row["updated_at"]) ?? .distantPast)
    }
}
