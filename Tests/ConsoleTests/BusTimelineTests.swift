import Foundation
import Messages
import TestSupport
import Testing

@testable import ConsoleCore

/// The plan seen from the buses, from the itineraries alone.
@Suite struct BusTimelineTests {
    static func timeline(day: String? = "2026-01-14") async throws -> BusTimeline {
        let harness = try await ConsoleFixtures.event()
        return try await harness.read { db in
            let programme = try #require(try ConsoleQueries.programme(eventID: nil, in: db))
            return try ConsoleHTTP.timeline(programme, wanted: day, .english, db).timeline
        }
    }

    @Test func eachBusHasItsStopsInOrderAndItsRiders() async throws {
        let timeline = try await Self.timeline()
        #expect(timeline.days == ["2026-01-14"])
        let buses = timeline.busDays(on: "2026-01-14")
        #expect(buses.map(\.busID) == ["bus-1", "bus-2"])
        #expect(buses[0].stops.map(\.venueID) == ["lien-chieu-port", "enosta-hub"], "two delegations' visits make one tour")
        #expect(buses[0].riders.map(\.organisation) == ["Guangxi Port Group", "Shenzhen Logistics Co."])
        #expect(buses[0].people == 5)
        #expect(buses[1].people == 4)
    }

    @Test func whereEachBusIsAtAMoment() async throws {
        let timeline = try await Self.timeline()
        let bus = try #require(timeline.busDays(on: "2026-01-14").first)
        func at(_ time: String) throws -> BusTimeline.Position? {
            BusTimeline.position(of: bus, at: try #require(timeline.moment(day: "2026-01-14", time: time)))
        }
        #expect(try at("07:00") == .notStarted(first: bus.stops[0]))
        #expect(try at("08:00") == .at(bus.stops[0]))
        #expect(try at("10:00") == .driving(from: bus.stops[0], to: bus.stops[1]))
        #expect(try at("14:00") == .at(bus.stops[1]))
        #expect(try at("14:30") == .finished(last: bus.stops[1]))
    }

    @Test func theDayIsDrawnWithEveryStopAndNothingUnescaped() async throws {
        let timeline = try await Self.timeline()
        let svg = timeline.svg(day: "2026-01-14", marker: timeline.moment(day: "2026-01-14", time: "14:00"))
        #expect(svg.hasPrefix("<svg"))
        #expect(svg.hasSuffix("</svg>"))
        #expect(svg.components(separatedBy: "<g class=\"stop\"").count - 1 == 3)
        #expect(svg.contains("class=\"marker\""))
        #expect(svg.contains("Lien Chieu Port 08:00–09:30"))
        #expect(escape("<script>\"a\" & 'b'</script>") == "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;")
        #expect(timeline.svg(day: "2026-01-13").isEmpty, "no bus, no picture")
        #expect(
            Set(try await Self.timeline(day: "2026-01-13").busDays.map(\.day)) == ["2026-01-14"], "a day without buses shows the first with"
        )
    }

    @Test func theEventsClockReadsAndWritesTimesInItsZone() throws {
        let clock = EventClock(zone: "Asia/Ho_Chi_Minh")
        let moment = try #require(clock.moment(day: "2026-01-14", time: "00:30"))
        #expect(MessageCoding.format(moment) == "2026-01-13T17:30:00Z", "00:30 in Da Nang is the evening before in UTC")
        #expect(clock.day(moment) == "2026-01-14" && clock.time(moment) == "00:30" && clock.full(moment) == "2026-01-14 00:30")
        #expect(EventClock(zone: "UTC").full(moment) == "2026-01-13 17:30")
        #expect(clock.moment(day: "2026-13-01", time: "10:00") == nil && clock.moment(day: "2026-01-14", time: "24:00") == nil)
        #expect(
            EventClock(zone: "Europe/Berlin").time(try #require(EventClock(zone: "Europe/Berlin").moment(day: "2026-07-01", time: "09:15")))
                == "09:15")
    }
}
