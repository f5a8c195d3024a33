import Foundation
import Messages
import TestSupport
import Testing

@testable import ConsoleCore

/// The plan drawn per venue, as a map, and as the meeting grid.
@Suite struct PlanPicturesTests {
    static func pictures(_ harness: HandlerHarness) async throws -> PlanPictures {
        try await harness.read { db in
            let programme = try #require(try ConsoleQueries.programme(eventID: nil, in: db))
            let (timeline, _, organisations) = try ConsoleHTTP.timeline(programme, wanted: "2026-01-14", .english, db)
            return PlanPictures(
                timeline: timeline, itineraries: try ConsoleQueries.meetingItineraries(eventID: programme.eventID, in: db),
                organisations: organisations)
        }
    }

    @Test func eachVenueShowsItsVisitsAgainstItsWindowsAndCapacity() async throws {
        let pictures = try await Self.pictures(try await ConsoleFixtures.event())
        let venues = pictures.venueVisits(on: "2026-01-14")
        let port = try #require(venues.first { $0.venue.id == "lien-chieu-port" })
        #expect(port.windows.count == 1)
        #expect(port.visits.map(\.busID) == ["bus-1"])
        #expect(port.visits.map(\.people) == [5])
        let hub = try #require(venues.first { $0.venue.id == "enosta-hub" })
        #expect(hub.visits.map(\.busID) == ["bus-2", "bus-1"], "in time order")
        let svg = pictures.venuesSVG(day: "2026-01-14")
        #expect(svg.contains("bus-1 5/45"))
        #expect(!svg.contains("class=\"visit over\""), "no visit over capacity")
    }

    @Test func theMapPlacesTheVenuesAndDrawsEachBussRoute() async throws {
        let pictures = try await Self.pictures(try await ConsoleFixtures.event())
        let svg = pictures.mapSVG(day: "2026-01-14")
        #expect(svg.components(separatedBy: "<polyline class=\"route\"").count - 1 == 1, "bus-2 has one stop: no line")
        #expect(svg.contains("data-bus=\"bus-1\""))
        #expect(svg.contains("data-venue=\"lien-chieu-port\"") && svg.contains("data-venue=\"enosta-hub\""))
        // North up: the port (16.12 N) is drawn above the hub (16.07 N), and west of it.
        func centre(_ venue: String) throws -> (Double, Double) {
            let after = try #require(svg.range(of: "data-venue=\"\(venue)\"><circle cx=\"")).upperBound
            let numbers = svg[after...].split(separator: "\"").prefix(3)
            return (Double(numbers.first ?? "") ?? 0, Double(numbers.dropFirst(2).first ?? "") ?? 0)
        }
        let port = try centre("lien-chieu-port")
        let hub = try centre("enosta-hub")
        #expect(port.1 < hub.1 && port.0 < hub.0, "port \(port), hub \(hub)")
    }

    @Test func theMeetingGridHasEachMeetingOnce() async throws {
        let harness = try await ConsoleFixtures.event()
        let slot = Samples.danang(day: 14, 11, 30)
        func meeting(_ reference: String, with counterpart: String) -> ItineraryItem {
            ItineraryItem(
                uid: "meeting-acme-hanoi-\(reference)", kind: .meeting, title: LocalizedText(en: "Meeting"), venueID: "networking-hall",
                start: slot, end: slot.addingTimeInterval(1800), counterpart: counterpart, table: 3)
        }
        try await harness.send(
            ConsoleFixtures.planned(
                "acme",
                [ConsoleFixtures.visit("acme", bus: "bus-1", venue: "lien-chieu-port", hour: 8), meeting("acme", with: "Hanoi AI Labs")],
                version: 2))
        try await harness.send(
            ConsoleFixtures.planned(
                "hanoi-ai",
                [
                    ConsoleFixtures.visit("hanoi-ai", bus: "bus-2", venue: "enosta-hub", hour: 9, minutes: 60),
                    meeting("hanoi-ai", with: "Shenzhen Logistics Co."),
                ],
                version: 2))
        let grid = try await Self.pictures(harness).meetingGrid(on: "2026-01-14")
        #expect(grid.slots == [slot])
        #expect(grid.tables.map(\.table) == [3])
        #expect(grid.tables.first?.cells == ["Hanoi AI Labs ↔ Shenzhen Logistics Co."])
        #expect(try await Self.pictures(harness).meetingGrid(on: "2026-01-13").tables.isEmpty)
    }
}
