import Foundation
import GRDB
import Hummingbird
import Messages
import ServiceRuntime

/// Read-only HTTP (scope `read`): an event's registrations and its counts. No personal data
/// beyond the organisation's name; identity documents never.
///
/// - `GET /events/{eventID}/registrations` → `{"eventID", "counts", "registrations": [...]}`
/// - `GET /events/{eventID}/counts` → accepted / waitlisted / cancelled / rejected, delegates, capacity
/// - `GET /retention` → per event: when it ends, when its personal data is erased, how far that went
public enum RegistrationsHTTP {
    public struct Summary: Codable, Sendable, Equatable {
        public var registrationID: String
        public var reference: String
        public var revision: Int
        public var status: String
        public var organisation: String
        public var country: String
        public var role: String
        public var delegates: Int
        public var waitlistPosition: Int?
        public var updatedAt: Date
    }

    public struct Counts: Codable, Sendable, Equatable {
        public var accepted: Int
        public var waitlisted: Int
        public var cancelled: Int
        public var rejected: Int
        public var delegatesAccepted: Int
        public var delegatesWaitlisted: Int
        public var capacityOrganisations: Int?
        public var capacityDelegates: Int?
    }

    public struct Listing: Codable, Sendable, Equatable {
        public var eventID: String
        public var counts: Counts
        public var registrations: [Summary]
    }

    /// The routes, with the retention the service runs with (for `GET /retention`).
    public static func routes(retention: Double) -> @Sendable (ServiceRoutes, ServiceStore) -> Void {
        { routes, store in
            addRoutes(to: routes, store: store)
            routes.read.get("/retention") { _, _ -> Response in
                try ServiceHTTP.json(
                    Retention(
                        retentionDays: Int((retention / 86400).rounded()),
                        events: try await store.database.read { db in try RegistrationStore.retention(retention, in: db) }))
            }
        }
    }

    /// `GET /retention`: each event's retention (when its personal data is due to be erased,
    /// and how many registrations are erased), for `delegation-ops status`.
    public struct Retention: Codable, Sendable, Equatable {
        public var retentionDays: Int
        public var events: [RetentionStatus]
    }

    @Sendable public static func addRoutes(to routes: ServiceRoutes, store: ServiceStore) {
        routes.read.get("/events/:eventID/registrations") { _, context -> Response in
            let eventID = try context.parameters.require("eventID")
            let result = try await store.database.read { db in try Self.listing(eventID: eventID, in: db) }
            return try ServiceHTTP.json(result)
        }
        routes.read.get("/events/:eventID/counts") { _, context -> Response in
            let eventID = try context.parameters.require("eventID")
            let result = try await store.database.read { db in try Self.counts(eventID: eventID, in: db) }
            return try ServiceHTTP.json(result)
        }
    }

    public static func listing(eventID: String, in db: Database) throws -> Listing {
        let records = try RegistrationStore.registrations(eventID: eventID, in: db)
        let waiting = records.filter { $0.status == .waitlisted }.sorted { ($0.waitlistSequence ?? 0) < ($1.waitlistSequence ?? 0) }
        var positions: [String: Int] = [:]
        for (index, record) in waiting.enumerated() { positions[record.registrationID] = index + 1 }
        let counts = try Self.counts(eventID: eventID, in: db)
        let summaries = records.map { record in
            Summary(
                registrationID: record.registrationID, reference: record.reference, revision: record.revision,
                status: record.status.rawValue,
                organisation: record.delegation.organisation.name, country: record.delegation.organisation.country,
                role: record.delegation.role.rawValue, delegates: record.delegateCount, waitlistPosition: positions[record.registrationID],
                updatedAt: record.updatedAt)
        }
        return Listing(eventID: eventID, counts: counts, registrations: summaries)
    }

    /// The event's counts, from the columns kept for them (no registration is read whole: a
    /// dashboard may ask every few seconds while an import runs).
    public static func counts(eventID: String, in db: Database) throws -> Counts {
        var byStatus: [RegistrationRecord.Status: (registrations: Int, delegates: Int)] = [:]
        for row in try Row.fetchAll(
            db, sql: "SELECT status, count(*), total(delegate_count) FROM registrations WHERE event_id = ? GROUP BY status",
            arguments: [eventID])
        {
            guard let status = RegistrationRecord.Status(rawValue: row[0]) else { continue }
            byStatus[status] = (row[1], Int(row[2] as Double))
        }
        let event = try RegistrationStore.event(eventID, in: db)
        return Counts(
            accepted: byStatus[.accepted]?.registrations ?? 0,
            waitlisted: byStatus[.waitlisted]?.registrations ?? 0,
            cancelled: byStatus[.cancelled]?.registrations ?? 0,
            rejected: try RegistrationStore.rejectionCount(eventID: eventID, in: db),
            delegatesAccepted: byStatus[.accepted]?.delegates ?? 0,
            delegatesWaitlisted: byStatus[.waitlisted]?.delegates ?? 0,
            capacityOrganisations: event?.capacity.organisations,
            capacityDelegates: event?.capacity.delegates)
    }
}
