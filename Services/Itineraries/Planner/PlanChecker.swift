import Foundation
import Messages

/// Checks any plan — ours or another tool's — against the hard constraints, and scores its soft
/// goals, so plans can be compared.
public struct PlanChecker: Sendable {
    public struct Violation: Sendable, Codable, Hashable, CustomStringConvertible {
        public var rule: String
        public var detail: String
        public var description: String { "\(rule): \(detail)" }
    }

    /// The soft goals. Higher is better; `total` is what plans are compared by.
    public struct Score: Sendable, Codable, Equatable {
        /// Σ over visits of the delegation's preference weight (rank and shared topics).
        public var visitValue: Double
        /// Preferred visits granted / asked for.
        public var preferredGranted: Int
        public var preferredAsked: Int
        public var mutualMeetings: Int
        public var oneSidedMeetings: Int
        /// Passenger languages that need an interpreter and have one on the tour / in all.
        public var interpreterCovered: Int
        public var interpreterNeeded: Int
        public var total: Double
    }

    public init() {}

    public func violations(of plan: Plan, for input: PlanningInput) -> [Violation] {
        let model = EventModel(input.programme)
        let delegations = Dictionary(input.delegations.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let buses = Dictionary(input.programme.buses.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let interpreters = Dictionary(input.programme.interpreters.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var found: [Violation] = []
        func flag(_ rule: String, _ detail: String) { found.append(Violation(rule: rule, detail: detail)) }

        let busy = input.programme.sessions.map { ($0.start, $0.end) } + input.programme.meetingSlots.map { ($0.start, $0.end) }
        var venueVisits: [String: [(Date, Date, String)]] = [:]
        var dayOfDelegation: [String: String] = [:]
        var busDays = Set<String>()
        var interpreterDays = Set<String>()
        var seen: [String: Set<String>] = [:]  // delegation → venues visited

        for tour in plan.tours {
            guard let bus = buses[tour.busID] else {
                flag("unknown-bus", "tour \(tour.id) uses bus '\(tour.busID)', which the programme does not have")
                continue
            }
            if !busDays.insert(tour.id).inserted { flag("bus-twice", "bus \(tour.busID) has two tours on \(tour.day)") }
            let load = tour.passengers.reduce(0) { $0 + (delegations[$1]?.on(tour.day).size ?? 0) }
            if load > bus.seats { flag("seats", "\(tour.id) carries \(load) people on \(bus.seats) seats") }
            for passenger in tour.passengers {
                guard let delegation = delegations[passenger] else {
                    flag("unknown-delegation", "\(tour.id) carries '\(passenger)', who is not registered")
                    continue
                }
                if delegation.role != .visiting { flag("host-on-tour", "\(passenger) is a host, not a visitor, but rides \(tour.id)") }
                if dayOfDelegation["\(passenger)@\(tour.day)"] != nil {
                    flag("two-places", "\(passenger) rides two buses on \(tour.day)")
                }
                dayOfDelegation["\(passenger)@\(tour.day)"] = tour.id
            }
            if let interpreter = tour.interpreterID {
                if interpreters[interpreter] == nil {
                    flag("unknown-interpreter", "\(tour.id) has interpreter '\(interpreter)', who is not in the programme")
                }
                if !interpreterDays.insert("\(interpreter)@\(tour.day)").inserted {
                    flag("interpreter-twice", "interpreter \(interpreter) is on two tours on \(tour.day)")
                }
            }
            var cursor = tour.departure
            let day = model.days.first { $0.date == tour.day }
            var position = day?.depot
            for passenger in tour.passengers {
                for venueID in Set(tour.stops.map(\.venueID)).sorted() where !seen[passenger, default: []].insert(venueID).inserted {
                    flag("revisit", "\(passenger) is taken to \(venueID) twice")
                }
            }
            if tour.stops.count != Set(tour.stops.map(\.venueID)).count { flag("revisit", "\(tour.id) stops at the same venue twice") }
            for stop in tour.stops {
                guard let venue = model.venues[stop.venueID], venue.isSiteVisit else {
                    flag("unknown-venue", "\(tour.id) stops at '\(stop.venueID)', which is not a site visit")
                    continue
                }
                if load > venue.capacityPerVisit {
                    flag(
                        "venue-capacity", "\(tour.id) brings \(load) people to \(venue.id), which takes \(venue.capacityPerVisit) per visit"
                    )
                }
                if stop.departure.timeIntervalSince(stop.arrival) < Double(venue.visitMinutes * 60) - 0.5 {
                    flag(
                        "visit-too-short",
                        "\(tour.id) stays \(Int(stop.departure.timeIntervalSince(stop.arrival) / 60)) min at \(venue.id), "
                            + "which needs \(venue.visitMinutes)"
                    )
                }
                if !venue.openingWindows.contains(where: { $0.start <= stop.arrival && stop.departure <= $0.end }) {
                    flag("closed", "\(tour.id) visits \(venue.id) at \(MessageCoding.format(stop.arrival)) outside its opening windows")
                }
                let travel = Double(model.travelMinutes(from: position, to: venue.id) * 60)
                if stop.arrival.timeIntervalSince(cursor) < travel - 0.5 {
                    flag(
                        "travel",
                        "\(tour.id) cannot reach \(venue.id) by \(MessageCoding.format(stop.arrival)): "
                            + "\(Int(travel / 60)) min from \(position ?? "the start")"
                    )
                }
                if busy.contains(where: { stop.arrival < $0.1 && stop.departure > $0.0 }) {
                    flag("session-clash", "\(tour.id) is at \(venue.id) during a fixed session or meeting slot")
                }
                for passenger in tour.passengers where !(delegations[passenger]?.mayEnter(venue.restrictedAccess) ?? true) {
                    flag("documents", "\(passenger) visits restricted \(venue.id) without complete documents before the deadline")
                }
                if let interpreter = tour.interpreterID.flatMap({ interpreters[$0] }) {
                    let needed = Set(tour.passengers.flatMap { delegations[$0]?.interpreterLanguages ?? [] })
                    if needed.isDisjoint(with: interpreter.languages) {
                        flag("interpreter-language", "\(interpreter.id) speaks none of the languages needed on \(tour.id)")
                    }
                }
                venueVisits[venue.id, default: []].append((stop.arrival, stop.departure, tour.id))
                if stop.arrival < cursor { flag("order", "\(tour.id) reaches \(venue.id) before leaving its previous stop") }
                cursor = stop.departure
                position = venue.id
            }
            if let day, let last = tour.stops.last, let next = day.next, !model.returnsInTime(day, from: last.venueID, at: last.departure) {
                flag(
                    "no-return",
                    "\(tour.id) leaves \(last.venueID) at \(MessageCoding.format(last.departure)), too late to reach "
                        + "\(next.venueID) by \(MessageCoding.format(next.start))")
            }
        }
        for (venue, visits) in venueVisits {
            let sorted = visits.sorted { $0.0 < $1.0 }
            for (a, b) in zip(sorted, sorted.dropFirst()) where b.0 < a.1 {
                flag("venue-overlap", "\(a.2) and \(b.2) are at \(venue) at the same time")
            }
        }

        var slotCompanies = Set<String>()
        var slotTables = Set<String>()
        var pairs = Set<String>()
        for meeting in plan.meetings {
            guard let slot = model.slots[meeting.slotID] else {
                flag("unknown-slot", "a meeting uses slot '\(meeting.slotID)', which the programme does not have")
                continue
            }
            if meeting.table < 1 || meeting.table > slot.tables {
                flag("table", "slot \(slot.id) has tables 1–\(slot.tables), not \(meeting.table)")
            }
            if !slotTables.insert("\(slot.id)#\(meeting.table)").inserted {
                flag("table-twice", "table \(meeting.table) is booked twice in \(slot.id)")
            }
            for company in [meeting.visitorID, meeting.hostID] where !slotCompanies.insert("\(slot.id)|\(company)").inserted {
                flag("company-twice", "\(company) has two meetings in \(slot.id)")
            }
            if !pairs.insert("\(meeting.visitorID)|\(meeting.hostID)").inserted {
                flag("pair-twice", "\(meeting.visitorID) and \(meeting.hostID) meet twice")
            }
            guard let visitor = delegations[meeting.visitorID], let host = delegations[meeting.hostID] else {
                flag("unknown-delegation", "a meeting names a company that is not registered")
                continue
            }
            if visitor.role != .visiting || host.role != .host {
                flag("meeting-roles", "\(meeting.visitorID) must be visiting and \(meeting.hostID) a host")
            }
            if MeetingScheduler.candidate(visitor, host) == nil {
                flag("no-common-interest", "\(visitor.id) and \(host.id) have nothing in common")
            }
            for company in [visitor.id, host.id] {
                for tour in plan.tours where tour.passengers.contains(company) {
                    if let end = tour.stops.last?.departure, slot.start < end, slot.end > tour.departure {
                        flag("meeting-clash", "\(company) meets in \(slot.id) while on \(tour.id)")
                    }
                }
            }
        }
        return found
    }

    public func score(of plan: Plan, for input: PlanningInput) -> Score {
        let model = EventModel(input.programme)
        let delegations = Dictionary(input.delegations.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let interpreters = Dictionary(input.programme.interpreters.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var value = 0.0
        var granted = 0
        var covered = 0
        var needed = 0
        var seen: [String: Set<String>] = [:]
        for tour in plan.tours.sorted(by: { $0.day < $1.day }) {
            let languages = Set(tour.interpreterID.flatMap { interpreters[$0]?.languages } ?? [])
            for passenger in tour.passengers {
                guard let delegation = delegations[passenger] else { continue }
                for stop in tour.stops where seen[passenger]?.contains(stop.venueID) != true {
                    guard let venue = model.venues[stop.venueID] else { continue }
                    value += Preference.weight(delegation, venue)
                    if delegation.preferredVisits.contains(stop.venueID) { granted += 1 }
                    seen[passenger, default: []].insert(stop.venueID)
                }
                if !tour.stops.isEmpty {
                    needed += delegation.interpreterLanguages.count
                    covered += delegation.interpreterLanguages.filter(languages.contains).count
                }
            }
        }
        let asked = input.delegations.filter { $0.role == .visiting }.reduce(0) { sum, delegation in
            sum + Set(delegation.preferredVisits).count
        }
        let mutual = plan.meetings.filter(\.mutual).count
        let oneSided = plan.meetings.count - mutual
        let total = value + 5 * Double(mutual) + 2 * Double(oneSided) + 3 * Double(covered) - 5 * Double(needed - covered)
        return Score(
            visitValue: value, preferredGranted: granted, preferredAsked: asked, mutualMeetings: mutual, oneSidedMeetings: oneSided,
            interpreterCovered: covered, interpreterNeeded: needed, total: total)
    }
}
