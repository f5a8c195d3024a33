import Foundation
import Messages

/// The day's plan drawn three more ways, as SVG made by the server: each venue's visits against
/// its opening windows and capacity; a map of the stops and each bus's route from the venues'
/// coordinates (no tile server); and the meeting grid, tables by slots.
public struct PlanPictures: Sendable {
    let timeline: BusTimeline
    let itineraries: [String: ConsoleQueries.Itinerary]
    let organisations: [String: String]

    public init(timeline: BusTimeline, itineraries: [String: ConsoleQueries.Itinerary], organisations: [String: String]) {
        self.timeline = timeline
        self.itineraries = itineraries
        self.organisations = organisations
    }

    private var programme: ProgrammePublished { timeline.programme }
    private var language: Language { timeline.language }

    // MARK: Venues

    public struct VenueVisit: Sendable, Equatable {
        public var busID: String
        public var arrival: Date
        public var departure: Date
        public var people: Int
    }

    /// The site visits of `day`, by venue (those with an opening window that day or a visit).
    public func venueVisits(on day: String) -> [(venue: Venue, windows: [TimeWindow], visits: [VenueVisit])] {
        let buses = timeline.busDays(on: day)
        return programme.venues.filter(\.isSiteVisit).compactMap { venue in
            let windows = venue.openingWindows.filter { timeline.clock.day($0.start) == day }
            let visits = buses.flatMap { bus in
                bus.stops.filter { $0.venueID == venue.id }.map {
                    VenueVisit(busID: bus.busID, arrival: $0.arrival, departure: $0.departure, people: bus.people)
                }
            }.sorted { $0.arrival < $1.arrival }
            return windows.isEmpty && visits.isEmpty ? nil : (venue, windows, visits)
        }
    }

    /// One row per venue: its opening windows shaded, each visit a bar labelled with the bus and
    /// people against the venue's capacity per visit (red when over).
    public func venuesSVG(day: String) -> String {
        let rows = venueVisits(on: day)
        let moments = rows.flatMap { $0.windows.flatMap { [$0.start, $0.end] } + $0.visits.flatMap { [$0.arrival, $0.departure] } }
        guard let first = moments.min(), let last = moments.max() else { return "" }
        let scale = SVG.TimeScale(from: first, to: last, left: 190, width: 960)
        let row = 44.0
        let top = 28.0
        var svg = SVG.open(class: "picture venues", width: 960, height: top + row * Double(rows.count) + 8, label: "venues \(day)")
        svg += scale.grid(top: top - 6, bottom: top + row * Double(rows.count), clock: timeline.clock)
        for (index, entry) in rows.enumerated() {
            let y = top + row * Double(index)
            let name = entry.venue.name.text(in: language)
            svg += """
                <g class="venue" data-venue="\(escape(entry.venue.id))"><text class="venue-name" x="4" y="\(f(y + 18))">\
                \(escape(SVG.fit(name, 30)))</text><text class="venue-capacity" x="4" y="\(f(y + 33))">\
                \(entry.venue.capacityPerVisit) / \(entry.venue.visitMinutes) min</text>
                """
            for window in entry.windows {
                svg += """
                    <rect class="open" x="\(f(scale.x(window.start)))" y="\(f(y + 4))" width="\(f(scale.width(window.start, window.end)))" \
                    height="36"><title>\(timeline.clock(window.start))–\(timeline.clock(window.end))</title></rect>
                    """
            }
            for visit in entry.visits {
                let over = visit.people > entry.venue.capacityPerVisit
                svg += """
                    <g class="visit\(over ? " over" : "")"><title>\(escape(visit.busID)) \(timeline.clock(visit.arrival))–\
                    \(timeline.clock(visit.departure)): \(visit.people)/\(entry.venue.capacityPerVisit)</title>\
                    <rect x="\(f(scale.x(visit.arrival)))" y="\(f(y + 10))" width="\(f(scale.width(visit.arrival, visit.departure)))" \
                    height="24" rx="3"/><text x="\(f(scale.x(visit.arrival) + 3))" y="\(f(y + 26))">\
                    \(escape(visit.busID)) \(visit.people)/\(entry.venue.capacityPerVisit)</text></g>
                    """
            }
            svg += "</g>"
        }
        return svg + "</svg>"
    }

    // MARK: Map

    /// The venues where they are (an equirectangular projection of their coordinates, north up)
    /// and each bus's route of the day (of `buses`, or all) as a line in its own colour.
    public func mapSVG(day: String, buses shown: Set<String>? = nil) -> String {
        let buses = timeline.busDays(on: day).filter { shown?.contains($0.busID) ?? true }
        let used = Set(buses.flatMap { $0.stops.map(\.venueID) })
        let venues = programme.venues.filter { $0.isSiteVisit || used.contains($0.id) }
        guard !venues.isEmpty else { return "" }
        let latitudes = venues.map(\.coordinates.latitude)
        let longitudes = venues.map(\.coordinates.longitude)
        guard let south = latitudes.min(), let north = latitudes.max(), let west = longitudes.min(), let east = longitudes.max() else {
            return ""
        }
        // Degrees of longitude shrink with the cosine of the latitude.
        let squeeze = cos((south + north) / 2 * .pi / 180)
        let spanX = max((east - west) * squeeze, 0.005)
        let spanY = max(north - south, 0.005)
        let width = 640.0
        let height = min(640, max(240, width * spanY / spanX))
        let margin = 60.0
        func point(_ coordinates: Coordinates) -> (x: Double, y: Double) {
            let x = margin + ((coordinates.longitude - west) * squeeze) / spanX * (width - 2 * margin)
            let y = margin + (north - coordinates.latitude) / spanY * (height - 2 * margin)
            return (x, y)
        }
        let places = Dictionary(venues.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var svg = SVG.open(class: "picture map", width: width, height: height, label: "map \(day)")
        svg += "<rect class=\"land\" x=\"0\" y=\"0\" width=\"\(f(width))\" height=\"\(f(height))\"/>"
        for (index, bus) in buses.enumerated() {
            let points = bus.stops.compactMap { places[$0.venueID].map { point($0.coordinates) } }
            guard points.count > 1 else { continue }
            svg += """
                <polyline class="route" data-bus="\(escape(bus.busID))" stroke="\(Self.colour(index))" \
                points="\(points.map { "\(f($0.x)),\(f($0.y))" }.joined(separator: " "))"><title>\(escape(bus.busID))</title></polyline>
                """
        }
        for venue in venues {
            let (x, y) = point(venue.coordinates)
            svg += """
                <g class="place" data-venue="\(escape(venue.id))"><circle cx="\(f(x))" cy="\(f(y))" r="6"/>\
                <text x="\(f(x + 9))" y="\(f(y + 4))">\(escape(SVG.fit(venue.name.text(in: language), 34)))</text></g>
                """
        }
        for (index, bus) in buses.enumerated() {
            svg += """
                <g class="legend"><rect x="8" y="\(f(8 + 16 * Double(index)))" width="14" height="4" fill="\(Self.colour(index))"/>\
                <text x="28" y="\(f(13 + 16 * Double(index)))">\(escape(bus.busID))</text></g>
                """
        }
        return svg + "</svg>"
    }

    static func colour(_ index: Int) -> String {
        let palette = ["#1f5fbf", "#b42318", "#067647", "#b54708", "#6941c6", "#0e7090", "#c11574", "#4e5ba6"]
        return palette[index % palette.count]
    }

    // MARK: Meetings

    public struct Meeting: Sendable, Equatable {
        public var start: Date
        public var table: Int
        public var companies: [String]
    }

    /// The meetings of `day`, once each (both companies' itineraries hold it).
    public func meetings(on day: String) -> [Meeting] {
        var found: [String: Meeting] = [:]
        for (registrationID, itinerary) in itineraries {
            for item in itinerary.items where item.kind == .meeting && timeline.clock.day(item.start) == day {
                let table = item.table ?? 0
                let key = "\(item.start.timeIntervalSince1970)|\(table)"
                var meeting = found[key] ?? Meeting(start: item.start, table: table, companies: [])
                let name = organisations[registrationID] ?? registrationID
                if !meeting.companies.contains(name) { meeting.companies.append(name) }
                meeting.companies.sort()
                found[key] = meeting
            }
        }
        return found.values.sorted { ($0.start, $0.table) < ($1.start, $1.table) }
    }

    /// The meeting grid as rows (a table each) of cells (a slot each).
    public func meetingGrid(on day: String) -> (slots: [Date], tables: [(table: Int, cells: [String])]) {
        let meetings = meetings(on: day)
        let slots = Array(Set(meetings.map(\.start))).sorted()
        let tables = Array(Set(meetings.map(\.table))).sorted()
        return (
            slots,
            tables.map { table in
                (
                    table,
                    slots.map { slot in
                        meetings.first { $0.start == slot && $0.table == table }?.companies.joined(separator: " ↔ ") ?? ""
                    }
                )
            }
        )
    }
}

private func f(_ value: Double) -> String { SVG.number(value) }
