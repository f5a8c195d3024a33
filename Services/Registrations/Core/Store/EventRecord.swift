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

    enum CodingKeys: String, CodingKey {
        case eventID = "event_id", programmeVersion = "programme_version", capacityOrganisations = "capacity_organisations"
        case capacityDelegates = "capacity_delegates", registrationDeadline = "registration_deadline", siteVisits = "site_visits"
        case endsAt = "ends_at"
    }

    init(_ event: EventProgramme) {
        eventID = event.eventID
        programmeVersion = event.version
        capacityOrganisations = event.capacity.organisations
        capacityDelegates = event.capacity.delegates
        registrationDeadline = event.registrationDeadline
        siteVisits = event.siteVisitIDs.sorted()
        endsAt = event.endsAt
    }

    var programme: EventProgramme {
        EventProgramme(
            eventID: eventID, version: programmeVersion,
            capacity: EventCapacity(organisations: capacityOrganisations, delegates: capacityDelegates),
            registrationDeadline: registrationDeadline, siteVisitIDs: Set(siteVisits), endsAt: endsAt)
    }
}
