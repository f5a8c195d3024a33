import Foundation
import GRDB
import Messages
import ServiceRuntime

/// What registrations keeps of an event's programme (table `events`).
struct EventRecord: StoreRecord {
    static let databaseTableName = "events"

    var eventID: String
    var programmeVersion: Int
    var capacityOrganisations: Int
    var capacityDelegates: Int
    var registrationDeadline: Date?
    var siteVisits: [String]
    var endsAt: Date?
    var timeZone: EventTimeZone?

    enum CodingKeys: String, CodingKey {
        case eventID = "event_id", programmeVersion = "programme_version", capacityOrganisations = "capacity_organisations"
        case capacityDelegates = "capacity_delegates", registrationDeadline = "registration_deadline", siteVisits = "site_visits"
        case endsAt = "ends_at", timeZone = "time_zone"
    }

    init(_ event: EventProgramme) {
        eventID = event.eventID
        programmeVersion = event.version
        capacityOrganisations = event.capacity.organisations
        capacityDelegates = event.capacity.delegates
        registrationDeadline = event.registrationDeadline
        siteVisits = event.siteVisitIDs.sorted()
        endsAt = event.endsAt
        timeZone = event.timeZone.map(EventTimeZone.init)
    }

    var programme: EventProgramme {
        EventProgramme(
            eventID: eventID, version: programmeVersion,
            capacity: EventCapacity(organisations: capacityOrganisations, delegates: capacityDelegates),
            registrationDeadline: registrationDeadline, siteVisitIDs: Set(siteVisits), endsAt: endsAt, timeZone: timeZone?.zone)
    }
}

/// An event's time zone in the store: its identifier (`Asia/Ho_Chi_Minh`). One this system does
/// not know is a value the code cannot read (`UnreadableRow`), never taken for UTC.
struct EventTimeZone: Codable, Sendable, DatabaseValueConvertible {
    var zone: TimeZone

    init(_ zone: TimeZone) { self.zone = zone }

    var databaseValue: DatabaseValue { zone.identifier.databaseValue }

    static func fromDatabaseValue(_ value: DatabaseValue) -> EventTimeZone? {
        String.fromDatabaseValue(value).flatMap { TimeZone(identifier: $0) }.map(EventTimeZone.init)
    }
}
