import Foundation
import GRDB
import Messages
import Passes
import ServiceRuntime

/// Check-in on the day itself: a marshal's scan (a pass's token, or the short code under it) is
/// checked against the passes' keys and the day's plan, then kept in the read model and
/// published as `checkin.recorded` in one transaction (the relay publishes it with confirms).
/// The same scan sent twice, or the same person checked in twice at the same place, is recorded
/// once; anything else wrong is refused at once with the reason, and nothing is kept of it.
public enum Checkins {
    /// One scan as the marshal's page sends it (and keeps while offline).
    public struct Scan: Sendable, Codable, Equatable {
        /// Made by the page (a UUID): the same scan sent again is the same check-in.
        public var id: String
        /// The token the QR code holds, or
        public var pass: String?
        /// the short code typed.
        public var code: String?
        public var day: String
        /// Boarding this bus (at `venue`, its stop), or else arriving at `venue`'s gate.
        public var bus: String?
        public var venue: String?
        public var scannedAt: Date?
        /// Checked in on the delegation's lead's word (the whole group at once), not scanned.
        public var lead: Bool?

        public init(
            id: String, pass: String? = nil, code: String? = nil, day: String, bus: String? = nil, venue: String? = nil,
            scannedAt: Date? = nil, lead: Bool? = nil
        ) {
            self.id = id
            self.pass = pass
            self.code = code
            self.day = day
            self.bus = bus
            self.venue = venue
            self.scannedAt = scannedAt
            self.lead = lead
        }
    }

    public struct Outcome: Sendable, Codable, Equatable {
        public enum Status: String, Sendable, Codable { case recorded, duplicate, refused }
        public var id: String
        public var status: Status
        /// Why it was refused, or when the person was checked in already.
        public var reason: String?
        public var organisation: String?
        public var person: Int?
    }

    /// Checks `scan` and records it for `marshal`.
    public static func record(
        _ scan: Scan, marshal: String, keys: PassKeys, programme: ProgrammePublished, now: Date = Date(), in db: Database
    ) throws -> Outcome {
        func refused(_ reason: String) -> Outcome { Outcome(id: scan.id, status: .refused, reason: reason) }
        guard scan.id.range(of: "^[A-Za-z0-9-]{8,64}$", options: .regularExpression) != nil else {
            return refused("a scan needs an id of 8 to 64 letters, digits or '-'")
        }
        if let known = try CheckinRow.fetch(id: scan.id, in: db) { return known.outcome(scan.id, status: .duplicate) }
        guard programme.days.contains(scan.day) else { return refused("\(scan.day) is not a day of \(programme.eventID)") }
        guard let place = scan.bus ?? scan.venue else { return refused("say the bus, or the venue's gate") }
        // Those expected here: on the bus that day, or through the gate (a code is looked for among them).
        func expectedHere(_ registration: String? = nil) throws -> [ConsoleQueries.BusVisit] {
            try ConsoleQueries.busVisits(
                eventID: programme.eventID, day: scan.day, bus: scan.bus, venue: scan.bus == nil ? scan.venue : nil,
                registration: registration, in: db)
        }
        let (registrationID, person): (String, Int)
        var method: CheckinRecorded.Method
        if let token = scan.pass {
            let pass: Pass
            do {
                pass = try Pass.verify(token, keys: keys, now: now)
            } catch {
                return refused("not a valid pass: \(error)")
            }
            guard pass.eventID == programme.eventID else { return refused("a pass for another event (\(pass.eventID))") }
            (registrationID, person) = (pass.registrationID, pass.person)
            method = .scan
        } else if let code = scan.code?.uppercased().filter({ $0.isLetter || $0.isNumber }), code.count == 8 {
            let riders = Set(try expectedHere().map { $0.registrationID })
            let candidates = try ConsoleQueries.people(eventID: programme.eventID, only: riders, in: db)
            let expires = programme.passesExpire ?? now
            let found = candidates.lazy.flatMap { id, people in
                (1...max(1, people.delegation.delegates.count)).lazy.map { (id, $0) }
            }.first { id, person in
                Pass(eventID: programme.eventID, registrationID: id, person: person, expires: expires).shortCode(keys) == code
            }
            guard let found else { return refused("no pass with the code \(code) is expected at \(place) on \(scan.day)") }
            (registrationID, person) = (found.0, found.1)
            method = .code
        } else {
            return refused("a scan carries a pass or its eight-character code")
        }
        guard let people = try ConsoleQueries.people(eventID: programme.eventID, only: [registrationID], in: db)[registrationID],
            (1...people.delegation.delegates.count).contains(person)
        else { return refused("this pass's delegation is not (or no longer) accepted") }
        if scan.lead == true { method = .lead }
        let organisation = people.delegation.organisation.name
        let expected = try expectedHere(registrationID)
        guard !expected.isEmpty else {
            let elsewhere = try ConsoleQueries.busVisits(eventID: programme.eventID, day: scan.day, registration: registrationID, in: db)
            let rides = Set(elsewhere.map(\.busID)).sorted().joined(separator: ", ")
            return Outcome(
                id: scan.id, status: .refused,
                reason: "not expected at \(place) on \(scan.day)" + (rides.isEmpty ? "" : ": rides \(rides)"), organisation: organisation,
                person: person)
        }
        if scan.bus == nil, let venue = programme.venues.first(where: { $0.id == scan.venue }), venue.restrictedAccess != nil,
            !(people.documents.indices.contains(person - 1) && people.documents[person - 1])
        {
            return Outcome(
                id: scan.id, status: .refused, reason: "not on the access list of \(venue.id): no identity document on file",
                organisation: organisation, person: person)
        }
        let message = try OutboundMessage(
            CheckinRecorded(
                checkinID: scan.id, eventID: programme.eventID, registrationID: registrationID, person: person,
                kind: scan.bus == nil ? .arrived : .boarded, day: scan.day, busID: scan.bus,
                venueID: scan.bus == nil ? scan.venue : (scan.venue ?? expected.min { $0.arrival < $1.arrival }?.venueID),
                method: method, marshal: marshal, scannedAt: scan.scannedAt ?? now), correlationID: scan.id)
        let checkin = try MessageCoding.decode(CheckinRecorded.self, from: message.body)
        if let earlier = try CheckinRow.fetchSame(as: checkin, in: db) { return earlier.outcome(scan.id, status: .duplicate) }
        try ConsoleStore.saveCheckin(checkin, in: db)
        try Outbox.append([message], causedBy: scan.id, service: ConsoleService.description.name, in: db)
        return Outcome(id: scan.id, status: .recorded, organisation: organisation, person: person)
    }

    /// A check-in kept in the read model.
    struct CheckinRow {
        var organisation: String?
        var person: Int
        var scannedAt: Date

        func outcome(_ id: String, status: Outcome.Status) -> Outcome {
            Outcome(
                id: id, status: status, reason: "checked in already at \(MessageCoding.format(scannedAt))", organisation: organisation,
                person: person)
        }

        static let columns = """
            SELECT registrations.organisation, checkins.person, checkins.scanned_at FROM checkins
            LEFT JOIN registrations ON registrations.registration_id = checkins.registration_id
            """

        static func fetch(id: String, in db: Database) throws -> CheckinRow? {
            try Row.fetchOne(db, sql: columns + " WHERE checkin_id = ?", arguments: [id]).map(CheckinRow.init)
        }

        static func fetchSame(as checkin: CheckinRecorded, in db: Database) throws -> CheckinRow? {
            try Row.fetchOne(
                db,
                sql: columns
                    + """
                     WHERE checkins.registration_id = ? AND person = ? AND kind = ? AND day = ? AND coalesce(bus_id, '') = ?
                        AND coalesce(venue_id, '') = ?
                    """,
                arguments: [
                    checkin.registrationID, checkin.person, checkin.kind.rawValue, checkin.day, checkin.busID ?? "", checkin.venueID ?? "",
                ]
            ).map(CheckinRow.init)
        }

        init(_ row: Row) {
            organisation = row[0]
            person = row[1]
            scannedAt = Date(timeIntervalSince1970: row[2])
        }
    }
}

extension ProgrammePublished {
    /// When the event's passes expire (`Pass.expiry` of its last day), nil without days.
    var passesExpire: Date? { days.max().flatMap { Pass.expiry(lastDay: $0, zone: timeZone) } }
}
