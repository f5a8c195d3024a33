import Foundation
import Messages

/// The plan seen from the buses: for each bus and day, its stops (from the visits of the
/// itineraries that ride it) and its riders; where each bus is at a given time; and the day
/// drawn as a timeline (SVG, one row per bus).
public struct BusTimeline: Sendable {
    public struct Stop: Sendable, Equatable {
        public var venueID: String
        public var venue: String
        public var arrival: Date
        public var departure: Date
        var key: StopKey { StopKey(venueID: venueID, arrival: arrival) }
    }

    /// A stop of a bus: the venue and when the bus arrives there.
    public struct StopKey: Sendable, Hashable {
        var venueID: String
        var arrival: Date
    }

    public struct Rider: Sendable, Equatable {
        public var registrationID: String
        public var organisation: String
        public var people: Int
        /// The stops it gets off at.
        public var stops: Set<StopKey>
    }

    public struct BusDay: Sendable, Equatable {
        public var busID: String
        public var seats: Int
        public var day: String
        public var stops: [Stop]
        public var riders: [Rider]
        public var people: Int { riders.reduce(0) { $0 + $1.people } }
    }

    /// Where a bus is at a moment.
    public enum Position: Sendable, Equatable {
        case notStarted(first: Stop)
        case at(Stop)
        case driving(from: Stop, to: Stop)
        case finished(last: Stop)
    }

    public let programme: ProgrammePublished
    public let language: Language
    public let busDays: [BusDay]
    /// The event's days that have a bus on the road (not only those of `busDays`).
    public let days: [String]
    /// The event's zone.
    let clock: EventClock

    private struct BusKey: Hashable {
        var busID: String
        var day: String
    }

    /// Some of another timeline's buses.
    public init(programme: ProgrammePublished, busDays: [BusDay], days: [String], language: Language) {
        self.programme = programme
        self.language = language
        self.busDays = busDays
        self.days = days
        clock = EventClock(zone: programme.timeZone)
    }

    /// The buses of `visits` (the visits of one day, or of every day), their riders named by
    /// `organisations` (name and people, by registration).
    public init(
        programme: ProgrammePublished, visits: [ConsoleQueries.BusVisit], days: [String], organisations: [String: (String, Int)],
        language: Language
    ) {
        self.programme = programme
        self.language = language
        self.days = days
        clock = EventClock(zone: programme.timeZone)
        let venues = Dictionary(programme.venues.map { ($0.id, $0.name.text(in: language)) }, uniquingKeysWith: { a, _ in a })
        let seats = Dictionary(programme.buses.map { ($0.id, $0.seats) }, uniquingKeysWith: { a, _ in a })
        var stops: [BusKey: [StopKey: Stop]] = [:]
        var riders: [BusKey: [String: Rider]] = [:]
        for visit in visits {
            let key = BusKey(busID: visit.busID, day: visit.day)
            let stop = Stop(
                venueID: visit.venueID, venue: venues[visit.venueID] ?? visit.venueID, arrival: visit.arrival, departure: visit.departure)
            stops[key, default: [:]][stop.key] = stop
            let (organisation, people) = organisations[visit.registrationID] ?? (visit.registrationID, 0)
            riders[key, default: [:]][
                visit.registrationID,
                default: Rider(
                    registrationID: visit.registrationID, organisation: organisation, people: people, stops: [])
            ].stops.insert(stop.key)
        }
        busDays = stops.keys.sorted { ($0.busID, $0.day) < ($1.busID, $1.day) }.map { key in
            BusDay(
                busID: key.busID, seats: seats[key.busID] ?? 0, day: key.day,
                stops: (stops[key] ?? [:]).values.sorted { $0.arrival < $1.arrival },
                riders: (riders[key] ?? [:]).values.sorted { ($0.organisation, $0.registrationID) < ($1.organisation, $1.registrationID) })
        }
    }

    public func busDays(on day: String) -> [BusDay] { busDays.filter { $0.day == day }.sorted { $0.busID < $1.busID } }

    /// `day` (YYYY-MM-DD) at `time` (HH:MM) in the event's zone.
    public func moment(day: String, time: String) -> Date? { clock.moment(day: day, time: time) }

    public static func position(of bus: BusDay, at moment: Date) -> Position? {
        guard let first = bus.stops.first, let last = bus.stops.last else { return nil }
        if moment < first.arrival { return .notStarted(first: first) }
        for (index, stop) in bus.stops.enumerated() {
            if moment >= stop.arrival && moment < stop.departure { return .at(stop) }
            if index + 1 < bus.stops.count, moment >= stop.departure, moment < bus.stops[index + 1].arrival {
                return .driving(from: stop, to: bus.stops[index + 1])
            }
        }
        return .finished(last: last)
    }

    /// `HH:mm` in the event's zone.
    public func clock(_ date: Date) -> String { clock.time(date) }

    // MARK: The picture

    /// The day as a Gantt chart: a row per bus, a bar per stop (venue, times; the riders in its
    /// tooltip), a line for each drive, a grid line each hour. `marker` draws a vertical line at
    /// that moment.
    public func svg(day: String, marker: Date? = nil) -> String {
        let buses = busDays(on: day)
        guard let start = buses.compactMap({ $0.stops.first?.arrival }).min(),
            let end = buses.compactMap({ $0.stops.last?.departure }).max()
        else { return "" }
        let scale = SVG.TimeScale(from: start, to: end, left: 110, width: 960)
        let row = 56.0
        let top = 28.0
        let height = top + row * Double(buses.count) + 8
        let x = scale.x
        var svg = SVG.open(class: "timeline", width: 960, height: height, label: day)
        svg += scale.grid(top: top - 6, bottom: height - 4, clock: clock)
        for (index, bus) in buses.enumerated() {
            let y = top + row * Double(index)
            svg += """
                <g class="bus" data-bus="\(escape(bus.busID))"><text class="bus-name" x="4" y="\(fmt(y + 22))">\(escape(bus.busID))</text>\
                <text class="bus-load" x="4" y="\(fmt(y + 40))">\(bus.people)/\(bus.seats)</text>
                """
            let riders = bus.riders.map { "\($0.organisation) (\($0.people))" }.joined(separator: ", ")
            for (stopIndex, stop) in bus.stops.enumerated() {
                if stopIndex > 0 {
                    let previous = bus.stops[stopIndex - 1]
                    svg += """
                        <line class="drive" x1="\(fmt(x(previous.departure)))" y1="\(fmt(y + 22))" x2="\(fmt(x(stop.arrival)))" \
                        y2="\(fmt(y + 22))"/>
                        """
                }
                let left = x(stop.arrival)
                let barWidth = max(2, x(stop.departure) - left)
                // As much of the name as the bar holds (about 6 px a character); the whole in its tooltip.
                let label = SVG.fit(stop.venue, max(1, Int((barWidth - 6) / 6.2)))
                svg += """
                    <g class="stop" data-venue="\(escape(stop.venueID))"><title>\(escape(stop.venue)) \(clock(stop.arrival))–\
                    \(clock(stop.departure)): \(escape(riders))</title><rect x="\(fmt(left))" y="\(fmt(y + 6))" \
                    width="\(fmt(barWidth))" height="32" rx="4"/><text x="\(fmt(left + 4))" y="\(fmt(y + 20))">\
                    \(escape(label))</text><text class="times" x="\(fmt(left + 4))" y="\(fmt(y + 33))">\
                    \(clock(stop.arrival))–\(clock(stop.departure))</text></g>
                    """
            }
            svg += "</g>"
        }
        if let marker, scale.contains(marker) {
            svg += """
                <line class="marker" x1="\(fmt(x(marker)))" y1="\(fmt(top - 6))" x2="\(fmt(x(marker)))" y2="\(fmt(height - 4))"/>
                """
        }
        return svg + "</svg>"
    }

    private func fmt(_ value: Double) -> String { SVG.number(value) }
}
