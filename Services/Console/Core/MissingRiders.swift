import Foundation
import GRDB
import Logging
import Messages
import Passes
import ServiceLifecycle
import ServiceRuntime

/// Who was not on board when their bus left. A bus leaves for its tour from the venue of the
/// day's session before its first visit, early enough to reach it (the programme's travel
/// times); a rider of that bus not checked in on it by then (plus the programme's
/// `missingRiderAlerts.afterMinutes`) is missing, unless their lead said they will not come.
/// The console raises one `boarding.missed` per delegation, bus and day, in the transaction
/// that records it (so a restart or a replay raises none twice); notifications tells the lead.
public enum MissingRiders {
    /// A bus leaving for its tour.
    public struct Departure: Sendable, Equatable {
        public var busID: String
        public var day: String
        /// The venue it leaves from, if the programme has one before its first visit.
        public var venueID: String?
        public var at: Date
        /// The delegations on it.
        public var registrations: Set<String>
    }

    /// An alert is not raised this long after its time (a console down for the day does not
    /// send the morning's alerts in the afternoon).
    static let stale: TimeInterval = 3600

    /// The buses leaving on `day`, from the visits by bus the plan gives.
    public static func departures(programme: ProgrammePublished, day: String, visits: [ConsoleQueries.BusVisit]) -> [Departure] {
        let clock = EventClock(zone: programme.timeZone)
        return Dictionary(grouping: visits.filter { $0.day == day }, by: \.busID).compactMap { busID, visits in
            guard let first = visits.min(by: { ($0.arrival, $0.venueID) < ($1.arrival, $1.venueID) }) else { return nil }
            let session = programme.sessions.filter { clock.day($0.end) == day && $0.end <= first.arrival }.max { $0.end < $1.end }
            let from = session?.venueID ?? programme.venues.first { !$0.isSiteVisit }?.id
            let drive = Double(programme.travelMinutes(from: from, to: first.venueID) * 60)
            return Departure(
                busID: busID, day: day, venueID: from, at: first.arrival.addingTimeInterval(-drive),
                registrations: Set(visits.map(\.registrationID)))
        }
        .sorted { ($0.at, $0.busID) < ($1.at, $1.busID) }
    }

    /// Raises the alerts due at `now` (today in the event's zone): for each bus gone at least
    /// `afterMinutes` ago (and at most an hour more), each delegation on it with riders neither
    /// checked in on that bus nor declared absent. Returns how many it raised.
    public static func raise(
        programme: ProgrammePublished, now: Date, keys: PassKeys?, publicURL: String?, in db: Database
    ) throws -> Int {
        let settings = programme.missingRiderAlertsInForce
        let day = EventClock(zone: programme.timeZone).day(now)
        guard settings.enabled, programme.days.contains(day) else { return 0 }
        let eventID = programme.eventID
        let wait = Double(settings.afterMinutes * 60)
        let due = departures(programme: programme, day: day, visits: try ConsoleQueries.busVisits(eventID: eventID, day: day, in: db))
            .filter { $0.at.addingTimeInterval(wait) <= now && now < $0.at.addingTimeInterval(wait + stale) }
        guard !due.isEmpty else { return 0 }
        let raised = try String.fetchSet(
            db, sql: "SELECT alert_id FROM missing_alerts WHERE event_id = ? AND day = ?", arguments: [eventID, day])
        let absent = try ConsoleQueries.absent(eventID: eventID, day: day, in: db)
        var raisedNow = 0
        for departure in due {
            let boarded = try ConsoleQueries.checkedIn(eventID: eventID, day: day, bus: departure.busID, venue: nil, in: db)
            let people = try ConsoleQueries.people(eventID: eventID, only: departure.registrations, in: db)
            for (registrationID, found) in people.sorted(by: { $0.key < $1.key }) {
                let alertID = "\(registrationID)~\(day)~\(departure.busID)"
                guard !raised.contains(alertID) else { continue }
                let missing = (1...max(1, found.delegation.delegates.count)).filter { person in
                    !boarded.contains("\(registrationID)|\(person)") && !absent.contains("\(registrationID)|\(person)")
                }
                guard !missing.isEmpty else { continue }
                let url = answerURL(
                    eventID: eventID, registrationID: registrationID, day: day, zone: programme.timeZone, keys: keys, publicURL: publicURL)
                let message = try OutboundMessage(
                    BoardingMissed(
                        alertID: alertID, eventID: eventID, registrationID: registrationID, day: day, busID: departure.busID,
                        venueID: departure.venueID, departure: departure.at, persons: missing, answerURL: url, raisedAt: now),
                    correlationID: alertID)
                try ConsoleStore.saveAlert(try MessageCoding.decode(BoardingMissed.self, from: message.body), in: db)
                // (its message id from the alert's: one message per alert, whatever raised it)
                try Outbox.append([message], causedBy: alertID, service: ConsoleService.description.name, in: db)
                raisedNow += 1
            }
        }
        return raisedNow
    }

    /// The lead's link to answer who will not come on `day`: signed with the passes' keys for
    /// that use, valid to the end of the day in the event's zone.
    static func answerURL(eventID: String, registrationID: String, day: String, zone: String, keys: PassKeys?, publicURL: String?)
        -> String?
    {
        guard let keys, let publicURL, let end = EventClock(zone: zone).moment(day: day, time: "23:59") else { return nil }
        let token = Pass(eventID: eventID, registrationID: registrationID, person: 0, expires: end.addingTimeInterval(60))
            .token(keys, for: .answer)
        return "\(publicURL)/answer?t=\(token)"
    }

    /// Records that `persons` of a registration will not come on `day`, and publishes it, in one
    /// transaction; those already declared are left as they are. Returns who was new.
    static func decline(
        eventID: String, registrationID: String, persons: [Int], day: String, source: AttendanceDeclined.Source, recordedBy: String?,
        now: Date, in db: Database
    ) throws -> [Int] {
        let absent = try ConsoleQueries.absent(eventID: eventID, day: day, in: db)
        let new = Set(persons).filter { !absent.contains("\(registrationID)|\($0)") }.sorted()
        guard !new.isEmpty else { return [] }
        let declineID = "\(registrationID)~\(day)~" + new.map(String.init).joined(separator: "-")
        let message = try OutboundMessage(
            AttendanceDeclined(
                declineID: declineID, eventID: eventID, registrationID: registrationID, persons: new, day: day, source: source,
                recordedBy: recordedBy, declinedAt: now),
            correlationID: declineID)
        try ConsoleStore.saveAbsence(try MessageCoding.decode(AttendanceDeclined.self, from: message.body), in: db)
        try Outbox.append([message], causedBy: declineID, service: ConsoleService.description.name, in: db)
        return new
    }

    /// Looks for alerts to raise every `interval` (and once at start).
    public static func watcher(
        store: ServiceStore, configuration: ConsoleConfiguration, outbox: Doorbell, interval: Duration = .seconds(15),
        now: @escaping @Sendable () -> Date = { Date() }, logger: Logger
    ) -> any Service {
        Watcher(store: store, configuration: configuration, outbox: outbox, interval: interval, now: now, logger: logger)
    }

    private struct Watcher: Service {
        let store: ServiceStore
        let configuration: ConsoleConfiguration
        let outbox: Doorbell
        let interval: Duration
        let now: @Sendable () -> Date
        let logger: Logger

        func run() async throws {
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                do {
                    let raised = try await store.database.write { db in
                        guard let programme = try ConsoleQueries.programme(eventID: configuration.eventID, in: db) else { return 0 }
                        return try MissingRiders.raise(
                            programme: programme, now: now(), keys: configuration.passKeys, publicURL: configuration.publicURL, in: db)
                    }
                    if raised > 0 {
                        outbox.ring()
                        logger.info("riders missing at departure: leads alerted", metadata: ["alerts": "\(raised)"])
                    }
                } catch {
                    logger.warning("could not look for riders missing at departure", metadata: ["error": "\(error)"])
                }
                _ = try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            }
        }
    }
}
