import Foundation
import ICalendar
import Messages

/// Turns a plan into what each delegation and each bus is told: itinerary items with stable
/// ids, the changes between two versions, iCalendar files, headcounts.
public struct ItineraryBuilder: Sendable {
    public let programme: ProgrammePublished
    private let venues: [String: Venue]
    private let sessions: [FixedSession]
    private let slots: [String: MeetingSlot]
    private let names: [String: String]

    /// `names`: organisation name by delegation id (for meeting counterparts and bus lists).
    public init(programme: ProgrammePublished, names: [String: String]) {
        self.programme = programme
        venues = Dictionary(programme.venues.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        sessions = programme.sessions
        slots = Dictionary(programme.meetingSlots.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        self.names = names
    }

    /// A stable, globally unique id: the same visit, session or meeting of the same delegation
    /// keeps its id in every plan version.
    public func uid(_ key: String, delegation: String) -> String {
        "\(key).\(delegation)@\(programme.eventID).itineraries.delegation"
    }

    /// One delegation's itinerary, in time order.
    public func items(for delegationID: String, in plan: Plan) -> [ItineraryItem] {
        var items: [ItineraryItem] = sessions.map { session in
            ItineraryItem(
                uid: uid("session-\(session.id)", delegation: delegationID), kind: .session, title: session.title, venueID: session.venueID,
                address: venues[session.venueID]?.address, start: session.start, end: session.end)
        }
        for tour in plan.tours where tour.passengers.contains(delegationID) {
            for stop in tour.stops {
                let venue = venues[stop.venueID]
                items.append(
                    ItineraryItem(
                        uid: uid("visit-\(stop.venueID)", delegation: delegationID), kind: .visit,
                        title: venue?.name ?? LocalizedText(en: stop.venueID),
                        venueID: stop.venueID, address: venue?.address, start: stop.arrival, end: stop.departure, busID: tour.busID))
            }
        }
        for meeting in plan.meetings where meeting.visitorID == delegationID || meeting.hostID == delegationID {
            guard let slot = slots[meeting.slotID] else { continue }
            let other = meeting.visitorID == delegationID ? meeting.hostID : meeting.visitorID
            let counterpart = names[other] ?? other
            items.append(
                ItineraryItem(
                    uid: uid("meeting-\([meeting.visitorID, meeting.hostID].joined(separator: "-"))", delegation: delegationID),
                    kind: .meeting,
                    title: LocalizedText(
                        en: "Meeting with \(counterpart)", vi: "Gặp gỡ \(counterpart)", zhHans: "与\(counterpart)会谈"),
                    venueID: slot.venueID, address: venues[slot.venueID]?.address, start: slot.start, end: slot.end,
                    counterpart: counterpart,
                    table: meeting.table))
        }
        return items.sorted { ($0.start, $0.uid) < ($1.start, $1.uid) }
    }

    /// What changed from `old` to `new` (matched by uid). `sequence` is carried over and raised
    /// for every item that changed.
    public static func changes(from old: [ItineraryItem], to new: [ItineraryItem]) -> (items: [ItineraryItem], changes: [ItineraryChange]) {
        let before = Dictionary(old.map { ($0.uid, $0) }, uniquingKeysWith: { first, _ in first })
        var items: [ItineraryItem] = []
        var changes: [ItineraryChange] = []
        for var item in new {
            guard let previous = before[item.uid] else {
                items.append(item)
                changes.append(ItineraryChange(uid: item.uid, kind: .added, before: nil, after: item))
                continue
            }
            item.sequence = previous.sequence
            var comparable = previous
            comparable.sequence = item.sequence
            if comparable != item {
                item.sequence = previous.sequence + 1
                let moved = previous.start != item.start || previous.end != item.end
                changes.append(ItineraryChange(uid: item.uid, kind: moved ? .moved : .updated, before: previous, after: item))
            }
            items.append(item)
        }
        let kept = Set(new.map(\.uid))
        for var gone in old where !kept.contains(gone.uid) {
            gone.sequence += 1
            changes.append(ItineraryChange(uid: gone.uid, kind: .removed, before: gone, after: nil))
        }
        return (items, changes.sorted { $0.uid < $1.uid })
    }

    /// The calendar of `items` (METHOD:PUBLISH), titles in `language`.
    public func calendar(_ items: [ItineraryItem], name: String, language: Language = .english, method: ICalendar.Method = .publish)
        -> ICalendar
    {
        ICalendar(
            method: method, name: name, timeZone: programme.timeZone,
            events: items.map { event($0, language: language, cancelled: method == .cancel) })
    }

    public func event(_ item: ItineraryItem, language: Language, cancelled: Bool = false) -> CalendarEvent {
        let venue = item.venueID.flatMap { venues[$0] }
        var details: [String] = []
        if let bus = item.busID { details.append("Bus: \(bus)") }
        if let table = item.table { details.append("Table: \(table)") }
        if let counterpart = item.counterpart { details.append("With: \(counterpart)") }
        return CalendarEvent(
            uid: item.uid, start: item.start, end: item.end, summary: item.title.text(in: language),
            location: [venue?.name.text(in: language), item.address].compactMap { $0 }.joined(separator: ", "),
            description: details.isEmpty ? nil : details.joined(separator: "\n"),
            geo: venue.map { ($0.coordinates.latitude, $0.coordinates.longitude) }, sequence: item.sequence, cancelled: cancelled)
    }

    /// People per bus per stop.
    public struct Headcount: Sendable, Codable, Equatable {
        public var busID: String
        public var day: String
        public var venueID: String
        public var arrival: Date
        public var delegations: Int
        public var people: Int
        public var seats: Int
    }

    public func headcounts(_ plan: Plan, sizes: [String: Int]) -> [Headcount] {
        let seats = Dictionary(programme.buses.map { ($0.id, $0.seats) }, uniquingKeysWith: { first, _ in first })
        return plan.tours.flatMap { tour in
            tour.stops.map { stop in
                Headcount(
                    busID: tour.busID, day: tour.day, venueID: stop.venueID, arrival: stop.arrival, delegations: tour.passengers.count,
                    people: tour.passengers.reduce(0) { $0 + (sizes[$1] ?? 0) }, seats: seats[tour.busID] ?? 0)
            }
        }
    }

    /// A bus's programme: its tours with stops and who rides, as calendar items.
    public func items(forBus busID: String, in plan: Plan) -> [ItineraryItem] {
        plan.tours.filter { $0.busID == busID }.flatMap { tour in
            tour.stops.map { stop in
                let venue = venues[stop.venueID]
                let riders = tour.passengers.map { names[$0] ?? $0 }.joined(separator: ", ")
                return ItineraryItem(
                    uid: "visit-\(stop.venueID).\(busID).\(tour.day)@\(programme.eventID).itineraries.delegation", kind: .visit,
                    title: venue?.name ?? LocalizedText(en: stop.venueID), venueID: stop.venueID, address: venue?.address,
                    start: stop.arrival,
                    end: stop.departure, busID: busID, counterpart: riders)
            }
        }
    }
}
