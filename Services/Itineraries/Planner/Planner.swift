import Foundation
import Messages

/// Plans who visits what, when, on which bus, and who meets whom.
///
/// Pure and deterministic: the same input (and previous plan) and the same budget give the same
/// plan. Visiting delegations travel as units; each day every bus runs at most one tour (a
/// route of visits inside the gap the fixed sessions and meeting slots leave, back in time for
/// what follows). Hard constraints — seats, a venue's capacity per visit and one group at a
/// time, opening windows, travel times, documents for restricted venues, one place at a time,
/// no venue twice — are never broken; the value of the visits (preferences and shared
/// interests) is maximised by `TourSearch` over all days at once.
///
/// With a `previous` plan it re-plans stably: tours keep their passengers and stops where they
/// are still valid, newcomers are added where they fit best, and only what a change forces moves.
public struct Planner: Sendable {
    /// Visits per tour at most.
    public var maxStopsPerTour = 3
    /// Steps of the search that improves a fresh plan (each ruins and rebuilds part of it), in
    /// all (a small event shares them among its restarts).
    public var searchIterations = 4000
    /// Stops the search early (construction included). Small events finish their iterations
    /// well inside it and get the same plan on every run; a large one is cut short by it.
    public var searchTimeLimit: Duration? = .milliseconds(1500)
    /// Seeds the search's random choices (another seed, another equally good plan).
    public var searchSeed: UInt64 = 0x5EED
    /// Searches of a small event (up to `restartLimit` visiting delegations), each from the
    /// same construction with its own seed (the first with `searchSeed`) and an equal share of
    /// the iterations; the best plan is kept. A search's random path decides which local optimum
    /// it ends in: on small events several shorter paths miss less than one long one.
    public var searchRestarts = 4
    public var restartLimit = 40

    public init() {}

    public func plan(_ input: PlanningInput, previous: Plan? = nil) -> Plan {
        let model = EventModel(input.programme)
        let delegations = Dictionary(input.delegations.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let visitors = input.delegations.filter { $0.role == .visiting && $0.size > 0 }
        let considered = Set(previous?.delegations ?? [])
        let refused = OverrideRules.contradictions(input.overrides, input)
        let overrides = input.overrides.filter { refused[$0.id] == nil }
        let problem = TourProblem(model: model, visitors: visitors, maxStops: maxStopsPerTour, overrides: overrides)
        let deadline = searchTimeLimit.map { ContinuousClock.now + $0 }
        var tours: [Tour] = []
        if let previous {
            let rules = DayPlanner.Rules(overrides)
            var visited: [String: Set<String>] = [:]
            for day in model.days {
                // Those who will not come that day take no seat (and a delegation none of whom
                // comes, no place on a tour).
                let today = delegations.mapValues { $0.on(day.date) }
                var builder = DayPlanner(
                    model: model, day: day, delegations: today, visited: visited, maxStops: maxStopsPerTour, rules: rules)
                let kept = previous.tours.filter { $0.day == day.date }
                let dayTours = builder.replan(
                    visitors: visitors.map { $0.on(day.date) }.filter { $0.size > 0 }, buses: input.programme.buses, previous: kept,
                    considered: considered)
                for tour in dayTours {
                    for passenger in tour.passengers { visited[passenger, default: []].formUnion(tour.stops.map(\.venueID)) }
                }
                tours += dayTours
            }
            // An override the stable re-plan does not keep (a new pin or required visit) is
            // kept by searching again over the tours it touches; the others stay as they are.
            let unmet = OverrideRules.unmet(
                overrides, in: Plan(eventID: "", programmeVersion: 0, tours: tours, meetings: [], unmet: [:]), input)
            if !unmet.isEmpty {
                let stable = tours
                tours = repair(tours, for: overrides.filter { unmet[$0.id] != nil }, problem: problem, deadline: deadline)
                for index in tours.indices {
                    let before = stable.first { $0.busID == tours[index].busID && $0.day == tours[index].day }
                    if before?.stops == tours[index].stops && before?.passengers == tours[index].passengers {
                        tours[index].interpreterID = before?.interpreterID
                    }
                }
            }
        } else {
            let start = problem.state(with: Array(problem.lockedTours.values))
            var best = start
            let rounds = visitors.count <= restartLimit ? max(1, searchRestarts) : 1
            // The later rounds' seeds are drawn from the first (a seed one generator step away
            // would only replay the same random path shifted by a step).
            var seeds = SplitMix64(state: ~searchSeed)
            for round in 0..<rounds {
                var search = TourSearch(problem: problem, iterations: searchIterations / rounds, deadline: deadline)
                search.random = SplitMix64(state: round == 0 ? searchSeed : seeds.next())
                let found = search.run(from: start)
                if round == 0 || found.value > best.value { best = found }
                if let deadline, ContinuousClock.now >= deadline { break }
            }
            tours = problem.tours(best)
        }
        tours = model.days.flatMap { day in
            assignInterpreters(tours.filter { $0.day == day.date }, delegations: delegations, interpreters: input.programme.interpreters)
        }
        // Meetings are looked for anew only for companies whose situation changed (new, gone,
        // on another tour, or who lost a meeting); the others keep theirs.
        let changed: Set<String>? = previous.map { previous in
            var changed = Set(input.delegations.map(\.id)).symmetricDifference(considered)
            let before = Dictionary(grouping: previous.tours.flatMap { tour in tour.passengers.map { ($0, tour) } }, by: \.0).mapValues {
                $0.map(\.1)
            }
            let after = Dictionary(grouping: tours.flatMap { tour in tour.passengers.map { ($0, tour) } }, by: \.0).mapValues {
                $0.map(\.1)
            }
            for id in Set(before.keys).union(after.keys) where before[id] ?? [] != after[id] ?? [] { changed.insert(id) }
            for meeting in previous.meetings where changed.contains(meeting.visitorID) || changed.contains(meeting.hostID) {
                changed.formUnion([meeting.visitorID, meeting.hostID])
            }
            return changed
        }
        let meetings = MeetingScheduler(model: model, delegations: input.delegations, tours: tours)
            .schedule(keeping: previous?.meetings ?? [], lookingFor: changed)
        var plan = Plan(
            eventID: input.programme.eventID, programmeVersion: input.programme.version, tours: tours, meetings: meetings, unmet: [:],
            delegations: input.delegations.map(\.id))
        plan.unmetOverrides = refused.merging(OverrideRules.unmet(overrides, in: plan, input)) { first, _ in first }
        return Explainer(model: model, plan: plan, delegations: input.delegations, overrides: overrides).explained(visitors)
    }

    /// Searches again over the slots the unmet overrides concern (the bus a delegation is
    /// pinned to and the one it rides that day; the tours a delegation rides and those through
    /// a venue it must visit); every other tour is kept as it is.
    private func repair(_ tours: [Tour], for unmet: [PlanningOverride], problem: TourProblem, deadline: ContinuousClock.Instant?) -> [Tour]
    {
        var state = problem.state(with: Array(problem.lockedTours.values) + tours)
        var touched = Set<Int>()
        for override in unmet {
            let visitor = override.delegationID.flatMap { problem.visitorIndex[$0] }
            let rides = visitor.map { v in (0..<problem.dayCount).map { state.rideOn[v * problem.dayCount + $0] }.filter { $0 >= 0 } } ?? []
            switch override.kind {
            case .pin:
                if let bus = override.busID.flatMap({ problem.busIndex[$0] }), let day = override.day.flatMap({ problem.dayIndex[$0] }) {
                    touched.insert(day * problem.busCount + bus)
                    if let visitor, state.rideOn[visitor * problem.dayCount + day] >= 0 {
                        touched.insert(state.rideOn[visitor * problem.dayCount + day])
                    }
                }
            case .requireVisit:
                touched.formUnion(rides)
                if let venue = override.venueID.flatMap({ problem.venueIndex[$0] }) {
                    for day in 0..<problem.dayCount { touched.formUnion(state.visits[day * problem.venueCount + venue].map(\.slot)) }
                }
            case .forbidVisit, .lockTour, .reserveSeats:
                touched.formUnion(rides)
            }
        }
        touched.subtract(problem.lockedTours.keys)
        for slot in touched { state.clear(problem, slot: slot) }
        var search = TourSearch(problem: problem, iterations: searchIterations, deadline: deadline)
        search.random = SplitMix64(state: searchSeed)
        search.locked.formUnion((0..<problem.slotCount).filter { !state.stops[$0].isEmpty })
        return problem.tours(search.run(from: state))
    }

    /// One interpreter per tour per day, where the passengers' languages need one. A tour keeps
    /// the interpreter it had while they are still needed there.
    private func assignInterpreters(_ tours: [Tour], delegations: [String: PlanningDelegation], interpreters: [Interpreter]) -> [Tour] {
        var tours = tours
        let needs = tours.indices.map { index in
            Set(tours[index].passengers.flatMap { delegations[$0]?.interpreterLanguages ?? [] })
        }
        let known = Dictionary(interpreters.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        for index in tours.indices {
            guard let id = tours[index].interpreterID else { continue }
            if known[id].map({ !needs[index].isDisjoint(with: $0.languages) }) != true { tours[index].interpreterID = nil }
        }
        let taken = Set(tours.compactMap(\.interpreterID))
        var free = interpreters.filter { !taken.contains($0.id) }.sorted { $0.id < $1.id }
        let order = tours.indices.filter { !needs[$0].isEmpty && !tours[$0].stops.isEmpty && tours[$0].interpreterID == nil }
            .sorted { (needs[$0].count, tours[$1].id) > (needs[$1].count, tours[$0].id) }
        for index in order {
            let ranked = free.enumerated()
                .map { ($0.offset, Set($0.element.languages).intersection(needs[index]).count) }
                .filter { $0.1 > 0 }
                .max { ($0.1, $1.0) < ($1.1, $0.0) }
            guard let (choice, _) = ranked else { continue }
            tours[index].interpreterID = free[choice].id
            free.remove(at: choice)
        }
        return tours
    }
}

/// Builds one day's tours.
struct DayPlanner {
    let model: EventModel
    let day: EventModel.Day
    let delegations: [String: PlanningDelegation]
    let visited: [String: Set<String>]
    let maxStops: Int
    private let windows: [String: TimeWindow]
    /// Venue id → times taken by tours.
    private var reservations: [String: [(start: Date, end: Date)]] = [:]

    /// What the organisers' overrides ask of a stable re-plan: seats kept free, visits
    /// forbidden to a delegation, tours locked as they are.
    struct Rules {
        var reserved: [String: Int] = [:]  // "bus@day" → seats kept free
        var forbidden = Set<String>()  // "delegation|venue"
        var locked: [String: Tour] = [:]  // "bus@day" → the tour

        init(_ overrides: [PlanningOverride] = []) {
            for override in overrides {
                switch override.kind {
                case .reserveSeats:
                    guard let bus = override.busID else { continue }
                    if let day = override.day {
                        reserved["\(bus)@\(day)", default: 0] += override.seats ?? 0
                    } else {
                        reserved[bus, default: 0] += override.seats ?? 0
                    }
                case .forbidVisit:
                    forbidden.insert("\(override.delegationID ?? "")|\(override.venueID ?? "")")
                case .lockTour:
                    if let tour = override.tour { locked[tour.id] = tour }
                case .pin, .requireVisit:
                    break
                }
            }
        }

        func seats(_ bus: Bus, on day: String) -> Int { max(0, bus.seats - (reserved["\(bus.id)@\(day)"] ?? 0) - (reserved[bus.id] ?? 0)) }
    }

    let rules: Rules

    init(
        model: EventModel, day: EventModel.Day, delegations: [String: PlanningDelegation], visited: [String: Set<String>], maxStops: Int,
        rules: Rules = Rules()
    ) {
        self.model = model
        self.day = day
        self.delegations = delegations
        self.visited = visited
        self.maxStops = maxStops
        self.rules = rules
        windows = Dictionary(day.openVenues.map { ($0.venue.id, $0.window) }, uniquingKeysWith: { first, _ in first })
    }

    /// What `delegation` would gain from visiting `venue` today: 0 if it saw it on an earlier
    /// day, may not enter it, or is larger than a visit group there.
    func gain(_ delegation: PlanningDelegation, _ venueID: String) -> Double {
        guard let venue = model.venues[venueID], visited[delegation.id]?.contains(venueID) != true,
            delegation.size <= venue.capacityPerVisit, delegation.mayEnter(venue.restrictedAccess)
        else { return 0 }
        return Preference.weight(delegation, venue)
    }

    private func load(_ passengers: [String]) -> Int { passengers.reduce(0) { $0 + (delegations[$1]?.size ?? 0) } }

    /// Whether the group may visit the venue: capacity, documents, and none of them saw it
    /// on an earlier day.
    private func admits(_ venue: Venue, _ passengers: [String]) -> Bool {
        load(passengers) <= venue.capacityPerVisit
            && passengers.allSatisfy {
                (delegations[$0]?.mayEnter(venue.restrictedAccess) ?? false) && visited[$0]?.contains(venue.id) != true
            }
    }

    /// Puts delegations on buses, largest first. A bus is anchored on the visit its first
    /// passenger wants most; it takes only as many people as that visit admits (and its seats),
    /// and only passengers who may enter it. Each delegation boards the bus whose anchor and
    /// passengers' wishes it shares most.
    private func assign(_ visitors: [PlanningDelegation], to buses: [Bus], segregate: Bool = false) -> [[String]] {
        var groups = Array(repeating: [String](), count: buses.count)
        var loads = Array(repeating: 0, count: buses.count)
        var limits = buses.map(\.seats)
        var anchors = Array(repeating: Venue?.none, count: buses.count)
        var wishes = Array(repeating: [String: Double](), count: buses.count)
        var excluded = Array(repeating: false, count: buses.count)  // carries someone kept out of a restricted site
        let open = day.openVenues.map(\.venue.id)
        let restricted = day.openVenues.map(\.venue).filter { $0.restrictedAccess != nil }
        for delegation in visitors.sorted(by: { ($0.size, $1.id) > ($1.size, $0.id) }) {
            // In venue order, so that sums (and the plan) are the same in every process.
            let wish = open.map { (venue: $0, weight: gain(delegation, $0)) }.filter { $0.weight > 0 }
            guard let favourite = wish.max(by: { ($0.weight, $1.venue) < ($1.weight, $0.venue) }) else { continue }
            let keptOut = restricted.contains { !delegation.mayEnter($0.restrictedAccess) }
            let wantsRestricted = wish.contains { item in restricted.contains { $0.id == item.venue } }
            var best: (index: Int, affinity: Double)?
            for index in buses.indices where loads[index] + delegation.size <= limits[index] {
                if segregate, !groups[index].isEmpty {
                    let busWantsRestricted = restricted.contains { (wishes[index][$0.id] ?? 0) > 0 }
                    if (keptOut && busWantsRestricted) || (wantsRestricted && excluded[index]) { continue }
                }
                var affinity: Double
                if let anchor = anchors[index] {
                    guard delegation.mayEnter(anchor.restrictedAccess) else { continue }
                    affinity = 2 * (wish.first { $0.venue == anchor.id }?.weight ?? 0)
                    for (venue, weight) in wish { affinity += min(weight, wishes[index][venue] ?? 0) / Double(groups[index].count) }
                    // Boarding a group that wants a restricted visit this delegation may not make
                    // would keep the whole group out.
                    for (venue, weight) in wishes[index] where weight > 0 {
                        if let restricted = model.venues[venue]?.restrictedAccess, !delegation.mayEnter(restricted) {
                            affinity -= weight / Double(groups[index].count)
                        }
                    }
                } else {
                    affinity = favourite.weight / 2
                }
                if affinity > (best?.affinity ?? -1) { best = (index, affinity) }
            }
            guard let best else { continue }
            if anchors[best.index] == nil, let venue = model.venues[favourite.venue] {
                anchors[best.index] = venue
                // Room for the visits this group is likely to make, not only the first.
                let likely = wish.sorted { ($0.weight, $1.venue) > ($1.weight, $0.venue) }.prefix(maxStops).compactMap {
                    model.venues[$0.venue]
                }
                limits[best.index] = min(buses[best.index].seats, likely.map(\.capacityPerVisit).min() ?? venue.capacityPerVisit)
            }
            groups[best.index].append(delegation.id)
            loads[best.index] += delegation.size
            if keptOut { excluded[best.index] = true }
            for (venue, weight) in wish { wishes[best.index][venue, default: 0] += weight }
        }
        return groups
    }

    /// The best route for a group: greedily the visit worth most to its passengers, inserted
    /// wherever in the route it fits (a morning visit can still go before an afternoon one),
    /// within windows, travel times and the venue's free times. `fixed` stops (kept from an
    /// earlier plan) stay as they are; new visits only follow them.
    private mutating func route(bus: Bus, passengers: [String], startingWith fixed: [Stop] = []) -> Tour {
        let riders = passengers.compactMap { delegations[$0] }
        let start = fixed.last?.departure ?? day.touringStart
        let from = fixed.last?.venueID ?? day.depot
        var chosen: [Venue] = []
        var schedule: [Stop] = []
        while fixed.count + chosen.count < maxStops {
            var best: (sequence: [Venue], stops: [Stop], value: Double)?
            for (venue, _) in day.openVenues
            where !chosen.contains(where: { $0.id == venue.id }) && !fixed.contains(where: { $0.venueID == venue.id }) {
                guard admits(venue, passengers) else { continue }
                let value = riders.reduce(0) { $0 + gain($1, venue.id) }
                guard value > 0, value >= (best?.value ?? 0) else { continue }
                for position in 0...chosen.count {
                    var sequence = chosen
                    sequence.insert(venue, at: position)
                    guard let stops = timetable(sequence, after: start, from: from) else { continue }
                    if let current = best,
                        (value, -(stops.last?.departure.timeIntervalSince1970 ?? 0)) <= (
                            current.value, -(current.stops.last?.departure.timeIntervalSince1970 ?? 0)
                        )
                    {
                        continue
                    }
                    best = (sequence, stops, value)
                }
            }
            guard let chosenNow = best else { break }
            chosen = chosenNow.sequence
            schedule = chosenNow.stops
        }
        for stop in schedule { reserve(stop) }
        return Tour(busID: bus.id, day: day.date, departure: day.touringStart, stops: fixed + schedule, passengers: passengers.sorted())
    }

    /// The earliest times for visiting `venues` in this order, or nil if one does not fit.
    private func timetable(_ venues: [Venue], after start: Date, from position: String?) -> [Stop]? {
        var stops: [Stop] = []
        var cursor = start
        var position = position
        for venue in venues {
            guard let window = windows[venue.id], let stop = earliestSlot(venue, window: window, after: cursor, from: position) else {
                return nil
            }
            stops.append(stop)
            cursor = stop.departure
            position = venue.id
        }
        if let last = stops.last, !model.returnsInTime(day, from: last.venueID, at: last.departure) { return nil }
        return stops
    }

    /// The first visit of `venue` after `time` (plus travel from `position`) that fits its window
    /// and does not overlap another group's visit.
    private func earliestSlot(_ venue: Venue, window: TimeWindow, after time: Date, from position: String?) -> Stop? {
        let duration = Double(venue.visitMinutes * 60)
        var arrival = max(window.start, time.addingTimeInterval(Double(model.travelMinutes(from: position, to: venue.id) * 60)))
        for taken in (reservations[venue.id] ?? []).sorted(by: { $0.start < $1.start })
        where arrival < taken.end && arrival.addingTimeInterval(duration) > taken.start {
            arrival = taken.end
        }
        let departure = arrival.addingTimeInterval(duration)
        guard departure <= window.end, departure <= day.touringEnd else { return nil }
        return Stop(venueID: venue.id, arrival: arrival, departure: departure)
    }

    private mutating func reserve(_ stop: Stop) {
        reservations[stop.venueID, default: []].append((stop.arrival, stop.departure))
    }

    // MARK: Stable re-planning

    /// Keeps the previous tours where they still hold, drops what no longer does, and fits the
    /// delegations that have no place yet: newcomers anywhere there is room, delegations that
    /// were already without a tour only where a place was freed. Nobody else moves; tours that
    /// changed may add a visit at the end.
    mutating func replan(visitors: [PlanningDelegation], buses allBuses: [Bus], previous: [Tour], considered: Set<String>) -> [Tour] {
        guard !day.openVenues.isEmpty else { return [] }
        // Seats an override keeps free are not there to fill.
        let buses = allBuses.map { bus in Bus(id: bus.id, seats: rules.seats(bus, on: day.date)) }
        let busByID = Dictionary(buses.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let present = Set(visitors.map(\.id))
        var tours: [Tour] = []
        var changed = Set<String>()  // bus ids
        let locked = rules.locked.values.filter { $0.day == day.date }
        for tour in locked.sorted(by: { $0.busID < $1.busID }) where busByID[tour.busID] != nil {
            var kept = tour
            kept.passengers = tour.passengers.filter(present.contains)
            for stop in kept.stops { reserve(stop) }
            tours.append(kept)
        }
        let lockedBuses = Set(locked.map(\.busID))
        let lockedRiders = Set(locked.flatMap(\.passengers))
        for old in previous.sorted(by: { $0.busID < $1.busID }) where !lockedBuses.contains(old.busID) {
            guard let bus = busByID[old.busID] else { continue }
            // Riders of a locked tour ride it; a forbidden visit takes the delegation off the tour.
            var passengers = old.passengers.filter { id in
                present.contains(id) && !lockedRiders.contains(id)
                    && !old.stops.contains { rules.forbidden.contains("\(id)|\($0.venueID)") }
            }
            // A delegation that grew past the seats leaves (the largest first).
            while load(passengers) > bus.seats,
                let last = passengers.max(by: { (delegations[$0]?.size ?? 0, $1) < (delegations[$1]?.size ?? 0, $0) })
            {
                passengers.removeAll { $0 == last }
            }
            guard !passengers.isEmpty else { continue }
            var stops: [Stop] = []
            var position = day.depot
            var cursor = day.touringStart
            for stop in old.stops {
                guard let venue = model.venues[stop.venueID], let window = windows[stop.venueID], admits(venue, passengers) else {
                    continue
                }
                let earliest = cursor.addingTimeInterval(Double(model.travelMinutes(from: position, to: venue.id) * 60))
                let duration = Double(venue.visitMinutes * 60)
                let stillValid =
                    stop.arrival >= earliest && stop.arrival >= window.start && stop.departure <= window.end
                    && stop.departure.timeIntervalSince(stop.arrival) >= duration && !overlapsReservation(stop)
                let kept = stillValid ? stop : earliestSlot(venue, window: window, after: cursor, from: position)
                guard let kept else { continue }
                reserve(kept)
                stops.append(kept)
                cursor = kept.departure
                position = kept.venueID
            }
            // The tour must still be back in time for what follows the gap.
            while let last = stops.last, !model.returnsInTime(day, from: last.venueID, at: last.departure) {
                stops.removeLast()
                reservations[last.venueID]?.removeAll { $0 == (last.arrival, last.departure) }
            }
            // A seat freed by someone who will not come is a place freed, like a delegation gone.
            let absentees = passengers.contains { delegations[$0]?.absent?[day.date]?.isEmpty == false }
            if passengers != old.passengers || stops != old.stops || absentees { changed.insert(bus.id) }
            tours.append(
                Tour(
                    busID: bus.id, day: day.date, departure: day.touringStart, stops: stops, passengers: passengers.sorted(),
                    interpreterID: old.interpreterID))
        }
        let placed = Set(tours.flatMap(\.passengers))
        let wasAboard = Set(previous.flatMap(\.passengers))
        let unplaced = visitors.filter { !placed.contains($0.id) }.sorted(by: { ($0.size, $1.id) > ($1.size, $0.id) })
        var waiting: [PlanningDelegation] = []
        for delegation in unplaced {
            // Newcomers (and anyone who lost their seat) may go anywhere; the others only where
            // a place was freed.
            let isNew = !considered.contains(delegation.id) || wasAboard.contains(delegation.id)
            var best: (index: Int, value: Double)?
            for index in tours.indices where (isNew || changed.contains(tours[index].busID)) && !lockedBuses.contains(tours[index].busID) {
                guard let bus = busByID[tours[index].busID], load(tours[index].passengers) + delegation.size <= bus.seats else { continue }
                let group = tours[index].passengers + [delegation.id]
                guard tours[index].stops.allSatisfy({ model.venues[$0.venueID].map { admits($0, group) } ?? false }) else { continue }
                let value = tours[index].stops.reduce(0) { $0 + gain(delegation, $1.venueID) }
                if value > 0, value > (best?.value ?? 0) { best = (index, value) }
            }
            if let best {
                tours[best.index].passengers = (tours[best.index].passengers + [delegation.id]).sorted()
                changed.insert(tours[best.index].busID)
            } else if isNew {
                waiting.append(delegation)
            }
        }
        // Newcomers left over ride buses without a tour yet.
        let used = Set(tours.map(\.busID))
        let idle = buses.filter { !used.contains($0.id) }.sorted { $0.id < $1.id }
        if !waiting.isEmpty, !idle.isEmpty {
            let groups = assign(waiting, to: idle)
            for index in idle.indices where !groups[index].isEmpty {
                tours.append(route(bus: idle[index], passengers: groups[index].sorted()))
            }
        }
        // Tours that changed may take another visit at the end (nobody moves for it).
        for index in tours.indices
        where changed.contains(tours[index].busID) && !lockedBuses.contains(tours[index].busID) && tours[index].stops.count < maxStops {
            guard let bus = busByID[tours[index].busID] else { continue }
            let interpreter = tours[index].interpreterID
            tours[index] = route(bus: bus, passengers: tours[index].passengers, startingWith: tours[index].stops)
            tours[index].interpreterID = interpreter
        }
        return tours.filter { !$0.stops.isEmpty }.sorted { $0.busID < $1.busID }
    }

    private func overlapsReservation(_ stop: Stop) -> Bool {
        (reservations[stop.venueID] ?? []).contains { stop.arrival < $0.end && stop.departure > $0.start }
    }
}
