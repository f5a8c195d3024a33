import Foundation
import GRDB
import Hummingbird
import ICalendar
import ItineraryPlanner
import Messages
import NIOCore
import ServiceRuntime

/// Read-only HTTP: plans, itineraries per delegation and per bus (JSON or iCalendar) and
/// headcounts (scope `read`), and access lists of restricted venues (names and document
/// numbers: scope `personal-data`).
///
/// - `GET /events/{e}/plan` — the latest plan with its version, score and any violations
/// - `GET /events/{e}/delegations/{id}/itinerary` (`.ics` for iCalendar; `?lang=vi|zh-Hans|en`)
/// - `GET /events/{e}/delegations/{id}/cancellations.ics` — METHOD:CANCEL for visits taken out
/// - `GET /events/{e}/buses/{bus}/itinerary` (`.ics`)
/// - `GET /events/{e}/headcount`
/// - `GET /events/{e}/venues/{venue}/access-list` (`.csv`) (`personal-data`)
public enum ItinerariesHTTP {
    public struct PlanView: Codable, Sendable {
        public var version: Int
        public var plan: Plan
        public var score: PlanChecker.Score
        public var violations: [PlanChecker.Violation]
    }

    public struct AccessEntry: Codable, Sendable, Equatable {
        public var registrationID: String
        public var organisation: String
        public var fullName: String
        public var document: String
        public var number: String
        public var issuingCountry: String
        public var busID: String
        public var arrival: Date
    }

    /// Everything a route needs from the store for one event.
    public struct Snapshot: Sendable {
        let programme: ProgrammePublished
        let version: Int
        let plan: Plan
        let delegations: [DelegationRecord]

        var input: PlanningInput { PlanningInput(programme: programme, delegations: delegations.map(\.planning)) }
        var builder: ItineraryBuilder {
            ItineraryBuilder(
                programme: programme,
                names: Dictionary(delegations.map { ($0.planning.id, $0.planning.name) }, uniquingKeysWith: { first, _ in first }))
        }
    }

    public static func snapshot(_ eventID: String, in db: Database) throws -> Snapshot? {
        guard let programme = try ItineraryStore.programme(eventID, in: db),
            let latest = try ItineraryStore.latestPlan(eventID: eventID, in: db)
        else { return nil }
        return Snapshot(
            programme: programme, version: latest.version, plan: latest.plan,
            delegations: try ItineraryStore.activeDelegations(eventID: eventID, in: db))
    }

    public static func routes(vault: IdentityVault) -> @Sendable (ServiceRoutes, ServiceStore) -> Void {
        { routes, store in
            let router = routes.read
            @Sendable func load(_ context: ServiceRequestContext) async throws -> Snapshot {
                let eventID = try context.parameters.require("eventID")
                guard let snapshot = try await store.database.read({ db in try snapshot(eventID, in: db) }) else {
                    throw HTTPError(.notFound, message: "no plan for event '\(eventID)' yet")
                }
                return snapshot
            }
            router.get("/events/:eventID/plan") { _, context -> Response in
                let s = try await load(context)
                let checker = PlanChecker()
                return try ServiceHTTP.json(
                    PlanView(
                        version: s.version, plan: s.plan, score: checker.score(of: s.plan, for: s.input),
                        violations: checker.violations(of: s.plan, for: s.input)))
            }
            router.get("/events/:eventID/delegations/:id/itinerary") { _, context -> Response in
                let s = try await load(context)
                return try ServiceHTTP.json(s.builder.items(for: try context.parameters.require("id"), in: s.plan))
            }
            router.get("/events/:eventID/delegations/:id/itinerary.ics") { request, context -> Response in
                let s = try await load(context)
                let id = try context.parameters.require("id")
                let name = s.delegations.first { $0.planning.id == id }?.planning.name ?? id
                let told = try await store.database.read { db in try ItineraryStore.told(eventID: s.programme.eventID, in: db)[id]?.items }
                let items = told ?? s.builder.items(for: id, in: s.plan)
                return calendar(s.builder.calendar(items, name: name, language: language(request)))
            }
            router.get("/events/:eventID/delegations/:id/cancellations.ics") { request, context -> Response in
                let s = try await load(context)
                let id = try context.parameters.require("id")
                let name = s.delegations.first { $0.planning.id == id }?.planning.name ?? id
                let withdrawn =
                    try await store.database.read { db in try ItineraryStore.told(eventID: s.programme.eventID, in: db)[id]?.withdrawn }
                    ?? []
                return calendar(s.builder.calendar(withdrawn, name: name, language: language(request), method: .cancel))
            }
            router.get("/events/:eventID/buses/:bus/itinerary") { _, context -> Response in
                let s = try await load(context)
                return try ServiceHTTP.json(s.builder.items(forBus: try context.parameters.require("bus"), in: s.plan))
            }
            router.get("/events/:eventID/buses/:bus/itinerary.ics") { request, context -> Response in
                let s = try await load(context)
                let bus = try context.parameters.require("bus")
                return calendar(
                    s.builder.calendar(s.builder.items(forBus: bus, in: s.plan), name: "Bus \(bus)", language: language(request)))
            }
            router.get("/events/:eventID/headcount") { _, context -> Response in
                let s = try await load(context)
                let sizes = Dictionary(s.delegations.map { ($0.planning.id, $0.planning.size) }, uniquingKeysWith: { first, _ in first })
                return try ServiceHTTP.json(s.builder.headcounts(s.plan, sizes: sizes))
            }
            routes.personalData.get("/events/:eventID/venues/:venue/access-list") { _, context -> Response in
                let s = try await load(context)
                return try ServiceHTTP.json(
                    try await accessList(s, venue: try context.parameters.require("venue"), store: store, vault: vault))
            }
            routes.personalData.get("/events/:eventID/venues/:venue/access-list.csv") { _, context -> Response in
                let s = try await load(context)
                let entries = try await accessList(s, venue: try context.parameters.require("venue"), store: store, vault: vault)
                return Response(
                    status: .ok, headers: [.contentType: "text/csv; charset=utf-8"],
                    body: ResponseBody(byteBuffer: ByteBuffer(string: csv(entries))))
            }
        }
    }

    /// The access list as CSV (RFC 4180; a name that would run as a formula is prefixed with `'`).
    public static func csv(_ entries: [AccessEntry]) -> String {
        var csv = "registration_id,organisation,full_name,document,number,issuing_country,bus,arrival\r\n"
        for e in entries {
            csv +=
                [
                    e.registrationID, e.organisation, e.fullName, e.document, e.number, e.issuingCountry, e.busID,
                    MessageCoding.format(e.arrival),
                ]
                .map(CSVField.escaped).joined(separator: ",") + "\r\n"
        }
        return csv
    }

    /// Who will enter a restricted venue, with the documents the site needs in advance.
    public static func accessList(_ s: Snapshot, venue: String, store: ServiceStore, vault: IdentityVault) async throws -> [AccessEntry] {
        guard s.programme.venues.contains(where: { $0.id == venue }) else {
            throw HTTPError(.notFound, message: "no venue '\(venue)' in the programme")
        }
        let visits = s.plan.tours.flatMap { tour in tour.stops.filter { $0.venueID == venue }.map { (tour, $0) } }
        let names = Dictionary(s.delegations.map { ($0.planning.id, $0.planning.name) }, uniquingKeysWith: { first, _ in first })
        var entries: [AccessEntry] = []
        for (tour, stop) in visits {
            for passenger in tour.passengers {
                let sealed = try await store.database.read { db in try ItineraryStore.identity(passenger, in: db) }
                guard let sealed else { continue }
                for document in try vault.open(sealed.ciphertext, keyID: sealed.keyID, registrationID: passenger).compactMap({ $0 }) {
                    entries.append(
                        AccessEntry(
                            registrationID: passenger, organisation: names[passenger] ?? passenger, fullName: document.fullName,
                            document: document.kind.rawValue,
                            number: document.number, issuingCountry: document.issuingCountry, busID: tour.busID, arrival: stop.arrival))
                }
            }
        }
        return entries
    }

    static func language(_ request: Request) -> Language {
        request.uri.queryParameters.get("lang").flatMap(Language.init(rawValue:)) ?? .english
    }

    static func calendar(_ calendar: ICalendar) -> Response {
        Response(
            status: .ok, headers: [.contentType: "text/calendar; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: calendar.render(stamp: Date()))))
    }
}
