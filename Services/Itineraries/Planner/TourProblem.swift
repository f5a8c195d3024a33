import Foundation
import Messages

/// The tour part of planning in integers: visitors, site visits, buses and days as indices,
/// times in whole seconds, so that the search's inner loops are plain arithmetic.
///
/// A *slot* is one bus on one day (`day * busCount + bus`); it runs at most one tour.
final class TourProblem {
    let model: EventModel
    let visitors: [PlanningDelegation]
    let venues: [Venue]
    let buses: [Bus]
    let dayCount: Int
    let maxStops: Int

    var venueCount: Int { venues.count }
    var busCount: Int { buses.count }
    var slotCount: Int { dayCount * busCount }

    let size: [Int]
    let seats: [Int]
    /// Per slot: the seats the tour may fill (the bus's, less those an override keeps free).
    let slotSeats: [Int]
    /// `visitor * dayCount + day`: the slot an override pins the delegation to, or -1.
    let pinned: [Int]
    /// Slots whose tour an override locks, with that tour.
    let lockedTours: [Int: Tour]
    /// Index by id: of visiting delegations, site visits, buses and days (`YYYY-MM-DD`).
    let visitorIndex: [String: Int]
    let venueIndex: [String: Int]
    let busIndex: [String: Int]
    let dayIndex: [String: Int]
    /// What the search adds to a visit an override requires, so that it comes before any
    /// preference (not part of the plan's value).
    static let requiredBonus = 10_000
    let visitSeconds: [Int]
    let capacity: [Int]
    /// `visitor * venueCount + venue`: what the visit is worth to the delegation.
    let weight: [Int]
    /// `visitor * venueCount + venue`: the delegation may be on a tour that stops there
    /// (documents for a restricted site, not larger than a visit group).
    let allowed: [Bool]
    /// `day * venueCount + venue`: the part of the opening window inside the day's gap;
    /// `openStart` is `Int.min` where the venue is closed that day.
    let openStart: [Int]
    let openEnd: [Int]
    /// Site visits open each day, in venue order.
    let openVenues: [[Int]]
    let dayStart: [Int]
    let dayEnd: [Int]
    /// Per day: the node buses leave from (-1: unknown, no travel counted), and the node and
    /// time of the next fixed part of the day (-1: nothing follows the gap).
    let depot: [Int]
    let nextNode: [Int]
    let nextStart: [Int]
    /// Seconds between nodes: the site visits first (`0..<venueCount`), then the other places
    /// tours start from or return to.
    private let travelSeconds: [Int]
    private let nodeCount: Int

    init(model: EventModel, visitors: [PlanningDelegation], maxStops: Int, overrides: [PlanningOverride] = []) {
        self.model = model
        self.visitors = visitors
        self.maxStops = maxStops
        buses = model.programme.buses.sorted { $0.id < $1.id }
        dayCount = model.days.count
        let open = Set(model.days.flatMap { $0.openVenues.map(\.venue.id) })
        venues = model.programme.venues.filter { open.contains($0.id) }.sorted { $0.id < $1.id }
        let venueIndex = Dictionary(venues.enumerated().map { ($0.element.id, $0.offset) }, uniquingKeysWith: { first, _ in first })
        self.venueIndex = venueIndex
        var nodes = venues.map(\.id)
        var nodeIndex = venueIndex
        func node(_ id: String?) -> Int {
            guard let id else { return -1 }
            if let known = nodeIndex[id] { return known }
            nodes.append(id)
            nodeIndex[id] = nodes.count - 1
            return nodes.count - 1
        }
        depot = model.days.map { node($0.depot) }
        nextNode = model.days.map { node($0.next?.venueID) }
        nextStart = model.days.map { $0.next.map { Self.seconds($0.start) } ?? Int.max }
        dayStart = model.days.map { Self.seconds($0.touringStart) }
        dayEnd = model.days.map { Self.seconds($0.touringEnd) }
        nodeCount = nodes.count
        var travel = Array(repeating: 0, count: nodes.count * nodes.count)
        for (a, from) in nodes.enumerated() {
            for (b, to) in nodes.enumerated() { travel[a * nodes.count + b] = model.travelMinutes(from: from, to: to) * 60 }
        }
        travelSeconds = travel
        let venueCount = venues.count
        var openStart = Array(repeating: Int.min, count: model.days.count * venueCount)
        var openEnd = Array(repeating: Int.min, count: model.days.count * venueCount)
        var openVenues: [[Int]] = []
        for (day, info) in model.days.enumerated() {
            var today: [Int] = []
            for (venue, window) in info.openVenues {
                guard let index = venueIndex[venue.id] else { continue }
                openStart[day * venueCount + index] = Self.seconds(window.start)
                openEnd[day * venueCount + index] = Self.seconds(window.end)
                today.append(index)
            }
            openVenues.append(today.sorted())
        }
        self.openStart = openStart
        self.openEnd = openEnd
        self.openVenues = openVenues
        size = visitors.map(\.size)
        seats = buses.map(\.seats)
        visitSeconds = venues.map { $0.visitMinutes * 60 }
        capacity = venues.map(\.capacityPerVisit)
        var weight = Array(repeating: 0, count: visitors.count * venueCount)
        // (forbidden and required visits are applied below, with the other overrides)
        var allowed = Array(repeating: false, count: visitors.count * venueCount)
        for (d, delegation) in visitors.enumerated() {
            for (v, venue) in venues.enumerated() {
                let may = delegation.size <= venue.capacityPerVisit && delegation.mayEnter(venue.restrictedAccess)
                allowed[d * venueCount + v] = may
                weight[d * venueCount + v] = may ? Int(Preference.weight(delegation, venue).rounded()) : 0
            }
        }
        let visitorIndex = Dictionary(visitors.enumerated().map { ($0.element.id, $0.offset) }, uniquingKeysWith: { first, _ in first })
        let busIndex = Dictionary(buses.map(\.id).enumerated().map { ($0.element, $0.offset) }, uniquingKeysWith: { first, _ in first })
        let dayIndex = Dictionary(model.days.enumerated().map { ($0.element.date, $0.offset) }, uniquingKeysWith: { first, _ in first })
        self.visitorIndex = visitorIndex
        self.busIndex = busIndex
        self.dayIndex = dayIndex
        let busSeats = buses.map(\.seats)
        let busCount = busSeats.count
        var slotSeats = (0..<(model.days.count * busCount)).map { busSeats[$0 % busCount] }
        var pinned = Array(repeating: -1, count: visitors.count * model.days.count)
        var lockedTours: [Int: Tour] = [:]
        for override in overrides {
            let visitor = override.delegationID.flatMap { visitorIndex[$0] }
            let venue = override.venueID.flatMap { venueIndex[$0] }
            let bus = override.busID.flatMap { busIndex[$0] }
            let day = override.day.flatMap { dayIndex[$0] }
            switch override.kind {
            case .forbidVisit:
                if let visitor, let venue {
                    allowed[visitor * venueCount + venue] = false
                    weight[visitor * venueCount + venue] = 0
                }
            case .requireVisit:
                if let visitor, let venue, allowed[visitor * venueCount + venue] {
                    weight[visitor * venueCount + venue] += Self.requiredBonus
                }
            case .pin:
                if let visitor, let bus, let day { pinned[visitor * model.days.count + day] = day * busCount + bus }
            case .lockTour:
                if let bus, let day, let tour = override.tour { lockedTours[day * busCount + bus] = tour }
            case .reserveSeats:
                guard let bus else { continue }
                for day in day.map({ [$0] }) ?? Array(0..<model.days.count) {
                    slotSeats[day * busCount + bus] = max(0, slotSeats[day * busCount + bus] - (override.seats ?? 0))
                }
            }
        }
        self.weight = weight
        self.allowed = allowed
        self.slotSeats = slotSeats
        self.pinned = pinned
        self.lockedTours = lockedTours
    }

    /// A state holding `tours` (of an earlier plan, or locked ones), as far as they still name
    /// known buses, days, venues and delegations.
    func state(with tours: [Tour]) -> TourState {
        var state = TourState(self)
        for tour in tours {
            guard let bus = busIndex[tour.busID], let day = dayIndex[tour.day] else { continue }
            let slot = day * busCount + bus
            let route = tour.stops.compactMap { venueIndex[$0.venueID] }
            guard route.count == tour.stops.count, state.stops[slot].isEmpty else { continue }
            let riders = tour.passengers.compactMap { visitorIndex[$0] }.filter { state.rideOn[$0 * dayCount + day] < 0 }
            state.set(self, slot: slot, route: route, times: tour.stops.map { Self.seconds($0.arrival) }, riders: riders)
        }
        return state
    }

    static func seconds(_ date: Date) -> Int { Int(date.timeIntervalSince1970.rounded(.down)) }

    func travel(_ from: Int, _ to: Int) -> Int { from < 0 || to < 0 ? 0 : travelSeconds[from * nodeCount + to] }

    func day(of slot: Int) -> Int { slot / busCount }
    func bus(of slot: Int) -> Int { slot % busCount }

    /// Whether a tour whose last visit ends at `time` at `venue` is back for what follows the gap.
    func returnsInTime(day: Int, from venue: Int, at time: Int) -> Bool {
        nextNode[day] < 0 || time + travel(venue, nextNode[day]) <= nextStart[day]
    }

    /// The tours a set of slots describes, as the plan states them.
    func tours(_ state: TourState) -> [Tour] {
        var tours: [Tour] = []
        for slot in 0..<slotCount where !state.stops[slot].isEmpty && !state.riders[slot].isEmpty {
            let day = day(of: slot)
            let stops = zip(state.stops[slot], state.arrivals[slot]).map { venue, arrival in
                Stop(
                    venueID: venues[venue].id, arrival: Date(timeIntervalSince1970: Double(arrival)),
                    departure: Date(timeIntervalSince1970: Double(arrival + visitSeconds[venue])))
            }
            tours.append(
                Tour(
                    busID: buses[bus(of: slot)].id, day: model.days[day].date, departure: model.days[day].touringStart, stops: stops,
                    passengers: state.riders[slot].map { visitors[$0].id }.sorted()))
        }
        return tours.sorted { ($0.day, $0.busID) < ($1.day, $1.busID) }
    }
}

/// Who rides what where: the search's working state. A value type, so a candidate is a copy
/// that is kept or dropped whole.
struct TourState {
    struct Visit {
        var start: Int
        var end: Int
        var slot: Int
    }

    /// Per slot: the venues in order, their arrival times, the riders and their total size.
    var stops: [[Int]]
    var arrivals: [[Int]]
    var riders: [[Int]]
    var load: [Int]
    /// `visitor * dayCount + day`: the slot the delegation rides, or -1.
    var rideOn: [Int]
    /// `visitor * venueCount + venue`: the day the delegation visits the venue, or -1.
    var visitedOn: [Int]
    /// `day * venueCount + venue`: visits there, sorted by start (one group at a time).
    var visits: [[Visit]]
    /// Σ over tours of every rider's weight for every stop.
    var value = 0

    init(_ problem: TourProblem) {
        stops = Array(repeating: [], count: problem.slotCount)
        arrivals = stops
        riders = stops
        load = Array(repeating: 0, count: problem.slotCount)
        rideOn = Array(repeating: -1, count: problem.visitors.count * problem.dayCount)
        visitedOn = Array(repeating: -1, count: problem.visitors.count * problem.venueCount)
        visits = Array(repeating: [], count: problem.dayCount * problem.venueCount)
    }

    func tourValue(_ problem: TourProblem, rider: Int, stops route: [Int]) -> Int {
        route.reduce(0) { $0 + problem.weight[rider * problem.venueCount + $1] }
    }

    /// The most people the slot's tour may carry: seats, and every stop's visit group.
    func limit(_ problem: TourProblem, slot: Int) -> Int {
        stops[slot].reduce(problem.slotSeats[slot]) { min($0, problem.capacity[$1]) }
    }

    /// Whether the delegation may join the slot's tour as it stands.
    func fits(_ problem: TourProblem, rider: Int, slot: Int) -> Bool {
        let day = problem.day(of: slot)
        let pin = problem.pinned[rider * problem.dayCount + day]
        guard rideOn[rider * problem.dayCount + day] < 0, pin < 0 || pin == slot,
            load[slot] + problem.size[rider] <= limit(problem, slot: slot)
        else {
            return false
        }
        return stops[slot].allSatisfy { problem.allowed[rider * problem.venueCount + $0] && visitedOn[rider * problem.venueCount + $0] < 0 }
    }

    mutating func add(_ problem: TourProblem, rider: Int, slot: Int) {
        let day = problem.day(of: slot)
        riders[slot].append(rider)
        load[slot] += problem.size[rider]
        rideOn[rider * problem.dayCount + day] = slot
        for venue in stops[slot] { visitedOn[rider * problem.venueCount + venue] = day }
        value += tourValue(problem, rider: rider, stops: stops[slot])
    }

    mutating func remove(_ problem: TourProblem, rider: Int, slot: Int) {
        guard let index = riders[slot].firstIndex(of: rider) else { return }
        riders[slot].remove(at: index)
        load[slot] -= problem.size[rider]
        rideOn[rider * problem.dayCount + problem.day(of: slot)] = -1
        for venue in stops[slot] { visitedOn[rider * problem.venueCount + venue] = -1 }
        value -= tourValue(problem, rider: rider, stops: stops[slot])
    }

    /// Empties a slot: its riders are free that day and its venues' times are released.
    mutating func clear(_ problem: TourProblem, slot: Int) {
        for rider in riders[slot] { remove(problem, rider: rider, slot: slot) }
        release(problem, slot: slot)
        stops[slot] = []
        arrivals[slot] = []
    }

    /// Gives an empty slot a route (times from `arrival`) and riders; riders on another tour
    /// that day leave it.
    mutating func set(_ problem: TourProblem, slot: Int, route: [Int], times: [Int], riders chosen: [Int]) {
        let day = problem.day(of: slot)
        for rider in chosen {
            let other = rideOn[rider * problem.dayCount + day]
            if other >= 0 { remove(problem, rider: rider, slot: other) }
        }
        stops[slot] = route
        reserve(problem, slot: slot, route: route, times: times)
        for rider in chosen { add(problem, rider: rider, slot: slot) }
    }

    /// Moves every tour of the day as early (or as late) as it goes, one tour at a time in the
    /// order of its visits, so that a bus rebuilt afterwards finds the room together at the other
    /// end of the day. Nothing else changes; each tour keeps its visits in the same order.
    mutating func retime(_ problem: TourProblem, day: Int, late: Bool, keeping locked: Set<Int>) {
        let slots = (0..<problem.busCount).map { day * problem.busCount + $0 }.filter { !stops[$0].isEmpty && !locked.contains($0) }
        let order =
            late
            ? slots.sorted { (arrivals[$0].last ?? 0, $1) > (arrivals[$1].last ?? 0, $0) }
            : slots.sorted {
                (arrivals[$0].first ?? 0, $0) < (arrivals[$1].first ?? 0, $1)
            }
        for slot in order {
            let route = stops[slot]
            let old = arrivals[slot]
            release(problem, slot: slot)
            var times: [Int]? = []
            if late {
                times = latestArrivals(problem, day: day, route: route)
            } else {
                var cursor = problem.dayStart[day]
                var position = problem.depot[day]
                for venue in route {
                    guard let arrival = arrival(problem, day: day, venue: venue, after: cursor, from: position) else {
                        times = nil
                        break
                    }
                    times?.append(arrival)
                    cursor = arrival + problem.visitSeconds[venue]
                    position = venue
                }
            }
            reserve(problem, slot: slot, route: route, times: times ?? old)
        }
    }

    private mutating func release(_ problem: TourProblem, slot: Int) {
        let day = problem.day(of: slot)
        for venue in stops[slot] { visits[day * problem.venueCount + venue].removeAll { $0.slot == slot } }
    }

    private mutating func reserve(_ problem: TourProblem, slot: Int, route: [Int], times: [Int]) {
        let day = problem.day(of: slot)
        arrivals[slot] = times
        for (venue, arrival) in zip(route, times) {
            let key = day * problem.venueCount + venue
            let visit = Visit(start: arrival, end: arrival + problem.visitSeconds[venue], slot: slot)
            let at = visits[key].firstIndex { $0.start > arrival } ?? visits[key].count
            visits[key].insert(visit, at: at)
        }
    }

    /// Times for `route` between its earliest (`earliest`) and its latest: each arrival that
    /// fraction of the way from one to the other (both keep order, travel and windows, and so
    /// does every point between); the earliest if a point between meets another group's visit.
    func timed(_ problem: TourProblem, day: Int, route: [Int], earliest: [Int], lateness: Double) -> [Int] {
        guard lateness > 0, let latest = latestArrivals(problem, day: day, route: route) else { return earliest }
        guard lateness < 1 else { return latest }
        let between = zip(earliest, latest).map { early, late in early + Int(Double(late - early) * lateness) }
        for (venue, arrival) in zip(route, between) {
            let end = arrival + problem.visitSeconds[venue]
            if visits[day * problem.venueCount + venue].contains(where: { arrival < $0.end && end > $0.start }) { return earliest }
        }
        return between
    }

    /// The latest times for visiting `route` in order (each visit as late as its window, the
    /// day's gap, the return for what follows, the next visit and the other groups' visits
    /// allow), or nil if the route does not fit that way. Leaves the early part of the day to
    /// other buses.
    func latestArrivals(_ problem: TourProblem, day: Int, route: [Int]) -> [Int]? {
        var arrivals = Array(repeating: 0, count: route.count)
        var limit = Int.max  // the latest departure from the stop being placed
        for index in stride(from: route.count - 1, through: 0, by: -1) {
            let venue = route[index]
            let key = day * problem.venueCount + venue
            let duration = problem.visitSeconds[venue]
            var departure = min(limit, problem.openEnd[key], problem.dayEnd[day])
            if index == route.count - 1, problem.nextNode[day] >= 0 {
                departure = min(departure, problem.nextStart[day] - problem.travel(venue, problem.nextNode[day]))
            }
            for visit in visits[key].reversed() where departure - duration < visit.end && departure > visit.start {
                departure = visit.start
            }
            let arrival = departure - duration
            guard arrival >= problem.openStart[key] else { return nil }
            arrivals[index] = arrival
            if index > 0 { limit = arrival - problem.travel(route[index - 1], venue) }
        }
        guard let first = route.first, arrivals[0] >= problem.dayStart[day] + problem.travel(problem.depot[day], first) else { return nil }
        return arrivals
    }

    /// The earliest arrival at `venue` after `time` at `position` that fits the window, the
    /// day's gap and the other groups' visits; nil if none.
    func arrival(_ problem: TourProblem, day: Int, venue: Int, after time: Int, from position: Int) -> Int? {
        let key = day * problem.venueCount + venue
        let opens = problem.openStart[key]
        guard opens != Int.min else { return nil }
        let duration = problem.visitSeconds[venue]
        var arrival = max(opens, time + problem.travel(position, venue))
        for visit in visits[key] where arrival < visit.end && arrival + duration > visit.start { arrival = visit.end }
        return arrival + duration <= min(problem.openEnd[key], problem.dayEnd[day]) ? arrival : nil
    }
}
