import Foundation
import Messages

/// The programme, indexed for planning: days in the event's zone, when tours may run each day,
/// where they start, travel times.
struct EventModel {
    struct Day {
        let date: String
        /// Tours run inside this gap between the fixed sessions and meeting slots.
        let touringStart: Date
        let touringEnd: Date
        /// Where buses leave from (the last session's venue), if known.
        let depot: String?
        /// Site visits with an opening window inside the gap, and that window.
        let openVenues: [(venue: Venue, window: TimeWindow)]
        /// The fixed part of the day after the gap (a session or meeting slot), if any: a tour
        /// must bring its riders there by its start.
        var next: (venueID: String, start: Date)? = nil
    }

    let programme: ProgrammePublished
    let venues: [String: Venue]
    let days: [Day]
    let slots: [String: MeetingSlot]
    private let matrix: [String: Int]

    init(_ programme: ProgrammePublished) {
        self.programme = programme
        venues = Dictionary(programme.venues.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        slots = Dictionary(programme.meetingSlots.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var matrix: [String: Int] = [:]
        for entry in programme.travel.matrix {
            matrix["\(entry.from)|\(entry.to)"] = entry.minutes
            if matrix["\(entry.to)|\(entry.from)"] == nil { matrix["\(entry.to)|\(entry.from)"] = entry.minutes }
        }
        self.matrix = matrix
        let zone = TimeZone(identifier: programme.timeZone) ?? TimeZone(secondsFromGMT: 0) ?? .current
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let venues = self.venues
        days = programme.days.sorted().compactMap { date in
            Self.day(date, programme: programme, venues: venues, calendar: calendar)
        }
    }

    private static func day(_ date: String, programme: ProgrammePublished, venues: [String: Venue], calendar: Calendar) -> Day? {
        let parts = date.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 3,
            let dayStart = calendar.date(from: DateComponents(year: parts[0], month: parts[1], day: parts[2])),
            let dayEnd = calendar.date(byAdding: .day, value: 1, to: dayStart)
        else { return nil }
        let siteVisits = programme.venues.filter(\.isSiteVisit).sorted { $0.id < $1.id }
        let windows = siteVisits.flatMap { venue in
            venue.openingWindows.compactMap { window -> TimeWindow? in
                let start = max(window.start, dayStart), end = min(window.end, dayEnd)
                return start < end ? TimeWindow(start: start, end: end) : nil
            }
        }
        guard let earliest = windows.map(\.start).min(), let latest = windows.map(\.end).max() else {
            return Day(date: date, touringStart: dayStart, touringEnd: dayStart, depot: nil, openVenues: [])
        }
        // Fixed sessions and meeting slots that day are busy time for everyone.
        var busy: [(start: Date, end: Date, venue: String)] = programme.sessions.map { ($0.start, $0.end, $0.venueID) }
        busy += programme.meetingSlots.map { ($0.start, $0.end, $0.venueID) }
        busy = busy.filter { $0.end > dayStart && $0.start < dayEnd }.sorted { $0.start < $1.start }
        // The longest free gap between busy spans, within the opening windows.
        var gaps: [(start: Date, end: Date, after: String?, next: (venueID: String, start: Date)?)] = []
        var cursor = earliest
        var lastVenue: String?
        for span in busy {
            if span.start > cursor { gaps.append((cursor, min(span.start, latest), lastVenue, (span.venue, span.start))) }
            if span.end > cursor {
                cursor = span.end
                lastVenue = span.venue
            }
        }
        if cursor < latest { gaps.append((cursor, latest, lastVenue, nil)) }
        guard
            let gap = gaps.filter({ $0.end > $0.start }).max(by: {
                ($0.end.timeIntervalSince($0.start), $1.start) < ($1.end.timeIntervalSince($1.start), $0.start)
            })
        else {
            return Day(date: date, touringStart: dayStart, touringEnd: dayStart, depot: nil, openVenues: [])
        }
        let depot = gap.after ?? programme.venues.first { !$0.isSiteVisit }?.id
        let open: [(venue: Venue, window: TimeWindow)] = siteVisits.compactMap { venue in
            let fitting = venue.openingWindows.compactMap { window -> TimeWindow? in
                let start = max(window.start, gap.start), end = min(window.end, gap.end)
                return end.timeIntervalSince(start) >= Double(venue.visitMinutes * 60) ? TimeWindow(start: start, end: end) : nil
            }
            return fitting.max { $0.end.timeIntervalSince($0.start) < $1.end.timeIntervalSince($1.start) }.map { (venue, $0) }
        }
        return Day(date: date, touringStart: gap.start, touringEnd: gap.end, depot: depot, openVenues: open, next: gap.next)
    }

    /// Whether a tour whose last visit is at `venueID` until `departure` is back in time for
    /// the next fixed part of the day (always, if nothing follows the gap).
    func returnsInTime(_ day: Day, from venueID: String, at departure: Date) -> Bool {
        guard let next = day.next else { return true }
        return departure.addingTimeInterval(Double(travelMinutes(from: venueID, to: next.venueID) * 60)) <= next.start
    }

    /// Minutes by bus from one place to another: the matrix, else straight-line distance times
    /// the detour factor at the road speed (rounded up).
    func travelMinutes(from: String?, to: String) -> Int {
        guard let from, from != to else { return 0 }
        if let listed = matrix["\(from)|\(to)"] { return listed }
        guard let a = venues[from]?.coordinates, let b = venues[to]?.coordinates else { return 0 }
        return programme.travel.minutes(km: Coordinates.haversineKm(a, b))
    }
}

/// How much a delegation wants a visit: its rank in the preferences, plus shared topics.
enum Preference {
    static func weight(_ delegation: PlanningDelegation, _ venue: Venue) -> Double {
        var weight = 0.0
        if let rank = delegation.preferredVisits.firstIndex(of: venue.id) { weight += 10 - Double(min(rank, 5)) }
        let shared = venue.topics.filter(delegation.interests.contains).count
        return weight + 2 * Double(shared)
    }
}
