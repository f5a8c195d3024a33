import Foundation
import Messages

/// An organiser's decision the planner must respect: a hard constraint, never traded for value.
public struct PlanningOverride: Sendable, Codable, Equatable {
    /// The kinds of the contract (`plan.override-requested`): pin (the delegation rides `busID`
    /// on `day`), require-visit / forbid-visit (`venueID`), lock-tour (the tour of `busID` on
    /// `day` keeps `tour`), reserve-seats (`seats` of `busID` stay free on `day`, every day if nil).
    public typealias Kind = PlanOverrideRequested.Kind

    public var id: String
    public var kind: Kind
    public var delegationID: String?
    public var busID: String?
    public var day: String?
    public var venueID: String?
    public var seats: Int?
    /// For `lockTour`: the tour as it was when the lock was applied.
    public var tour: Tour?

    public init(
        id: String, kind: Kind, delegationID: String? = nil, busID: String? = nil, day: String? = nil, venueID: String? = nil,
        seats: Int? = nil, tour: Tour? = nil
    ) {
        self.id = id
        self.kind = kind
        self.delegationID = delegationID
        self.busID = busID
        self.day = day
        self.venueID = venueID
        self.seats = seats
        self.tour = tour
    }

    /// What the override says, in a line (for logs and refusals; names no person).
    public var summary: String {
        switch kind {
        case .pin: return "pin \(delegationID ?? "?") to \(busID ?? "?") on \(day ?? "?")"
        case .requireVisit: return "\(delegationID ?? "?") must visit \(venueID ?? "?")"
        case .forbidVisit: return "\(delegationID ?? "?") must not visit \(venueID ?? "?")"
        case .lockTour: return "lock the tour of \(busID ?? "?") on \(day ?? "?")"
        case .reserveSeats: return "keep \(seats ?? 0) seats free on \(busID ?? "?")\(day.map { " on \($0)" } ?? "")"
        }
    }
}

/// Whether overrides make sense against an event, and whether a plan keeps them.
public enum OverrideRules {
    /// Overrides that cannot be kept whatever the plan, each with the reason: unknown names,
    /// a delegation that may not enter the venue or is larger than a visit group there, two
    /// overrides that contradict each other, more people pinned or reserved than seats.
    /// Earlier overrides win: a later one that contradicts them is the one refused.
    public static func contradictions(_ overrides: [PlanningOverride], _ input: PlanningInput) -> [String: String] {
        let model = EventModel(input.programme)
        let delegations = Dictionary(input.delegations.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let buses = Dictionary(input.programme.buses.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let days = Set(model.days.map(\.date))
        var refused: [String: String] = [:]
        var kept: [PlanningOverride] = []
        for override in overrides {
            if let reason = problem(override, kept, model: model, delegations: delegations, buses: buses, days: days) {
                refused[override.id] = reason
            } else {
                kept.append(override)
            }
        }
        return refused
    }

    private static func problem(
        _ override: PlanningOverride, _ kept: [PlanningOverride], model: EventModel, delegations: [String: PlanningDelegation],
        buses: [String: Bus], days: Set<String>
    ) -> String? {
        let delegation = override.delegationID.flatMap { delegations[$0] }
        let bus = override.busID.flatMap { buses[$0] }
        switch override.kind {
        case .pin, .requireVisit, .forbidVisit:
            guard let delegation else { return "no accepted delegation '\(override.delegationID ?? "")' in this event" }
            guard delegation.role == .visiting else { return "\(delegation.id) is a host; only visiting delegations ride tours" }
        case .lockTour, .reserveSeats:
            break
        }
        switch override.kind {
        case .pin, .lockTour, .reserveSeats:
            guard bus != nil else { return "the programme has no bus '\(override.busID ?? "")'" }
            if let day = override.day, !days.contains(day) { return "the event has no day \(day)" }
            if override.kind != .reserveSeats, override.day == nil { return "a day is needed" }
        case .requireVisit, .forbidVisit:
            guard let venue = override.venueID.flatMap({ model.venues[$0] }), venue.isSiteVisit else {
                return "'\(override.venueID ?? "")' is not a site visit of this event"
            }
        }
        let sameDelegation = kept.filter { $0.delegationID != nil && $0.delegationID == override.delegationID }
        switch override.kind {
        case .pin:
            guard let delegation, let bus, let day = override.day else { return nil }
            if let other = sameDelegation.first(where: { $0.kind == .pin && $0.day == day && $0.busID != bus.id }) {
                return "\(delegation.id) is already pinned to \(other.busID ?? "?") on \(day) (\(other.id))"
            }
            if let lock = kept.first(where: { $0.kind == .lockTour && $0.busID == bus.id && $0.day == day }),
                lock.tour?.passengers.contains(delegation.id) != true
            {
                return "the tour of \(bus.id) on \(day) is locked (\(lock.id)) without \(delegation.id)"
            }
            let load = pinnedLoad(kept + [override], bus: bus.id, day: day, delegations: delegations)
            let free = bus.seats - reserved(kept, bus: bus.id, day: day)
            if load > free { return "\(bus.id) has \(free) seats free on \(day) for \(load) pinned people" }
        case .requireVisit:
            guard let delegation, let venueID = override.venueID, let venue = model.venues[venueID] else { return nil }
            if !delegation.mayEnter(venue.restrictedAccess) {
                return "\(venueID) admits only visitors whose identity documents were complete before the deadline"
            }
            if delegation.size > venue.capacityPerVisit {
                return "the delegation (\(delegation.size)) is larger than a visit group at \(venueID) (\(venue.capacityPerVisit))"
            }
            if !model.days.contains(where: { day in day.openVenues.contains { $0.venue.id == venueID } }) {
                return "\(venueID) has no opening that fits between the sessions on the event's days"
            }
            if let other = sameDelegation.first(where: { $0.kind == .forbidVisit && $0.venueID == venueID }) {
                return "\(delegation.id) is forbidden to visit \(venueID) (\(other.id))"
            }
        case .forbidVisit:
            if let other = sameDelegation.first(where: { $0.kind == .requireVisit && $0.venueID == override.venueID }) {
                return "\(override.delegationID ?? "?") is required to visit \(override.venueID ?? "?") (\(other.id))"
            }
        case .lockTour:
            guard let bus, let day = override.day else { return nil }
            guard let tour = override.tour, !tour.stops.isEmpty else { return "\(bus.id) has no tour on \(day) to lock" }
            if let pin = kept.first(where: {
                $0.kind == .pin && $0.busID == bus.id && $0.day == day && !tour.passengers.contains($0.delegationID ?? "")
            }) {
                return "\(pin.delegationID ?? "?") is pinned to \(bus.id) on \(day) (\(pin.id)) but not on the tour to lock"
            }
        case .reserveSeats:
            guard let bus, let seats = override.seats else { return "the number of seats to keep free is needed" }
            guard seats > 0, seats <= bus.seats else { return "\(bus.id) has \(bus.seats) seats; cannot keep \(seats) free" }
            for day in override.day.map({ [$0] }) ?? days.sorted() {
                let free = bus.seats - reserved(kept + [override], bus: bus.id, day: day)
                let load = pinnedLoad(kept, bus: bus.id, day: day, delegations: delegations)
                if load > free { return "\(bus.id) would have \(free) seats on \(day) for \(load) pinned people" }
                if let tour = kept.first(where: { $0.kind == .lockTour && $0.busID == bus.id && $0.day == day })?.tour {
                    let locked = tour.passengers.reduce(0) { $0 + (delegations[$1]?.size ?? 0) }
                    if locked > free {
                        return "the locked tour of \(bus.id) on \(day) carries \(locked) people; \(free) seats would be left"
                    }
                }
            }
        }
        return nil
    }

    static func reserved(_ overrides: [PlanningOverride], bus: String, day: String) -> Int {
        overrides.filter { $0.kind == .reserveSeats && $0.busID == bus && ($0.day == nil || $0.day == day) }.reduce(0) {
            $0 + ($1.seats ?? 0)
        }
    }

    private static func pinnedLoad(_ overrides: [PlanningOverride], bus: String, day: String, delegations: [String: PlanningDelegation])
        -> Int
    {
        Set(overrides.filter { $0.kind == .pin && $0.busID == bus && $0.day == day }.compactMap(\.delegationID)).reduce(0) {
            $0 + (delegations[$1]?.size ?? 0)
        }
    }

    /// The overrides `plan` does not keep, each with what is wrong.
    public static func unmet(_ overrides: [PlanningOverride], in plan: Plan, _ input: PlanningInput) -> [String: String] {
        let delegations = Dictionary(input.delegations.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let seats = Dictionary(input.programme.buses.map { ($0.id, $0.seats) }, uniquingKeysWith: { first, _ in first })
        var unmet: [String: String] = [:]
        for override in overrides {
            let delegation = override.delegationID ?? ""
            switch override.kind {
            case .pin:
                let tour = plan.tour(of: delegation, on: override.day ?? "")
                if tour?.busID != override.busID { unmet[override.id] = "the plan cannot put \(delegation) on \(override.busID ?? "?")" }
            case .requireVisit:
                if !plan.tours.contains(where: {
                    $0.passengers.contains(delegation) && $0.stops.contains { $0.venueID == override.venueID }
                }) {
                    unmet[override.id] = "no tour can take \(delegation) to \(override.venueID ?? "?")"
                }
            case .forbidVisit:
                if plan.tours.contains(where: { $0.passengers.contains(delegation) && $0.stops.contains { $0.venueID == override.venueID } }
                ) {
                    unmet[override.id] = "\(delegation) still visits \(override.venueID ?? "?")"
                }
            case .lockTour:
                let now = plan.tours.first { $0.busID == override.busID && $0.day == override.day }
                if now?.stops != override.tour?.stops || now?.passengers != override.tour?.passengers {
                    unmet[override.id] = "the locked tour no longer fits the programme or its riders"
                }
            case .reserveSeats:
                for tour in plan.tours where tour.busID == override.busID && (override.day == nil || tour.day == override.day) {
                    let load = tour.passengers.reduce(0) { $0 + (delegations[$1]?.on(tour.day).size ?? 0) }
                    let free = (seats[tour.busID] ?? 0) - reserved(overrides, bus: tour.busID, day: tour.day)
                    if load > free { unmet[override.id] = "\(tour.id) carries \(load) people on \(free) seats" }
                }
            }
        }
        return unmet
    }
}
