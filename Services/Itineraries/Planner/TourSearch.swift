import Foundation

/// A small deterministic generator (SplitMix64): the same seed gives the same search (and the
/// same synthetic events in the benchmark).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64
    public init(state: UInt64) { self.state = state }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Finds tours worth as much as possible: routes first, riders chosen by value for each route
/// (a knapsack over seats and visit groups), then a large-neighbourhood search: ruin part of
/// the plan (some bus-days, a whole day, the tours through a venue, the riders of two tours, or
/// a few delegations), rebuild it, and keep the result under simulated annealing (a worse plan is kept now and then,
/// less and less often as the budget runs out). Days are planned together.
///
/// Deterministic: the same problem, iterations and seed give the same tours; `deadline`
/// (optional) stops the search early and then only the time taken varies.
struct TourSearch {
    let problem: TourProblem
    var iterations: Int
    var deadline: ContinuousClock.Instant?
    var random = SplitMix64(state: 0x5EED)
    /// Slots the search must leave as they are.
    var locked = Set<Int>()
    /// Most venues considered when routing one bus (the ones most wanted by those still free).
    var venuesPerRoute = 8
    /// Riders considered per venue when routing one bus (those who want it most); on a tie in
    /// what they want, the lower index. Large enough that a three-stop route still finds the
    /// riders who want all three.
    var candidatesPerVenue = 400
    /// Events up to this many visiting delegations polish every rebuilt day with rider moves.
    var polishLimit = 600

    init(problem: TourProblem, iterations: Int, deadline: ContinuousClock.Instant? = nil) {
        self.problem = problem
        self.iterations = iterations
        self.deadline = deadline
        locked = Set(problem.lockedTours.keys)
    }

    /// Whether the search may move the delegation on `day`: not pinned there, not on a locked tour.
    private func movable(_ state: TourState, rider: Int, day: Int) -> Bool {
        let ride = state.rideOn[rider * problem.dayCount + day]
        return problem.pinned[rider * problem.dayCount + day] < 0 && (ride < 0 || !locked.contains(ride))
    }

    /// Builds from `start` (empty slots are routed) and improves it.
    mutating func run(from start: TourState) -> TourState {
        var current = start
        rebuild(&current, slots: (0..<problem.slotCount).filter { !locked.contains($0) && current.stops[$0].isEmpty })
        var best = current
        let open = (0..<problem.slotCount).filter { !locked.contains($0) }
        guard !open.isEmpty, !problem.visitors.isEmpty else { return best }
        // Simulated annealing: a plan worse by Δ is kept with probability e^(−Δ/T), T falling
        // from about 1 % of the first plan's value to nearly nothing over the budget.
        let hot = max(1, Double(current.value) * 0.01)
        let cold = 0.05
        // The pins the start keeps (a pinned delegation on its bus): a rebuilt tour that cannot
        // take one would drop it, and a plan without it is never kept, whatever it is worth.
        let pins = (0..<problem.visitors.count * problem.dayCount).filter {
            problem.pinned[$0] >= 0 && current.rideOn[$0] == problem.pinned[$0]
        }
        for step in 0..<iterations {
            if let deadline, step % 8 == 0, ContinuousClock.now >= deadline { break }
            let temperature = hot * pow(cold / hot, Double(step) / Double(max(1, iterations - 1)))
            var candidate = current
            perturb(&candidate, open: open)
            guard pins.allSatisfy({ candidate.rideOn[$0] == problem.pinned[$0] }) else { continue }
            let worse = Double(current.value - candidate.value)
            if worse <= 0 || Double.random(in: 0..<1, using: &random) < exp(-worse / temperature) { current = candidate }
            if current.value > best.value { best = current }
        }
        return best
    }

    // MARK: Ruin and recreate

    private mutating func perturb(_ state: inout TourState, open: [Int]) {
        let busy = open.filter { !state.stops[$0].isEmpty }
        switch Int.random(in: 0..<11, using: &random) {
        case 0..<3:
            // A few bus-days, anywhere.
            var slots = Set<Int>()
            let count = Int.random(in: 1...min(3, open.count), using: &random)
            while slots.count < count, let slot = (slots.isEmpty && !busy.isEmpty ? busy : open).randomElement(using: &random) {
                slots.insert(slot)
            }
            for slot in slots { state.clear(problem, slot: slot) }
            shake(&state, days: Set(slots.map(problem.day(of:))))
            rebuild(&state, slots: slots.sorted(), greedy: Bool.random(using: &random))
        case 3..<5:
            // A whole day.
            let day = Int.random(in: 0..<problem.dayCount, using: &random)
            let slots = open.filter { problem.day(of: $0) == day }.shuffled(using: &random).prefix(6)
            for slot in slots { state.clear(problem, slot: slot) }
            rebuild(&state, slots: slots.sorted(), greedy: Bool.random(using: &random))
        case 5:
            // Every tour through one venue on one day.
            guard let slot = busy.randomElement(using: &random), let venue = state.stops[slot].randomElement(using: &random) else {
                return
            }
            let day = problem.day(of: slot)
            let slots = Set(state.visits[day * problem.venueCount + venue].map(\.slot)).subtracting(locked).sorted().prefix(6)
            for slot in slots { state.clear(problem, slot: slot) }
            shake(&state, days: [day])
            rebuild(&state, slots: Array(slots), greedy: Bool.random(using: &random))
        case 6:
            // The riders of two tours, seated again together and exactly; routes stay. (Three
            // at a time found no more in the benchmark and cost a table of ~20³ states.)
            let slots = Array(busy.shuffled(using: &random).prefix(2))
            guard slots.count == 2 else { return }
            reseat(&state, slots: slots)
            fill(&state, days: Array(0..<problem.dayCount))
        default:
            // A few delegations leave their tours and are placed again, best first; routes stay.
            let riding = busy.flatMap { slot in
                state.riders[slot].filter { movable(state, rider: $0, day: problem.day(of: slot)) }.map { (slot, $0) }
            }
            guard !riding.isEmpty else {
                fill(&state, days: Array(0..<problem.dayCount))
                return
            }
            let count = min(riding.count, Int.random(in: 1...4, using: &random))
            var freed: [Int] = []
            for _ in 0..<count {
                guard let (_, rider) = riding.randomElement(using: &random), !freed.contains(rider) else { continue }
                for day in 0..<problem.dayCount where movable(state, rider: rider, day: day) {
                    let slot = state.rideOn[rider * problem.dayCount + day]
                    if slot >= 0 { state.remove(problem, rider: rider, slot: slot) }
                }
                freed.append(rider)
            }
            // Someone without a tour may take a freed seat before the freed do; then each freed
            // delegation takes the best combination of tours over the days.
            fill(&state, days: Array(0..<problem.dayCount), excluding: Set(freed))
            for rider in freed.shuffled(using: &random) { placeBest(&state, rider: rider) }
        }
    }

    /// Seats the riders of a few tours again, routes unchanged, all at once and exactly: a
    /// knapsack whose room is every tour's seats together, each delegation taking at most one of
    /// the tours a day and no venue twice. Finds exchanges along a chain of delegations that
    /// moves of one or two at a time never reach.
    func reseat(_ state: inout TourState, slots: [Int]) {
        guard slots.count <= 8 else { return }  // a set of tours is a byte below
        for slot in slots {
            let day = problem.day(of: slot)
            for rider in state.riders[slot] where movable(state, rider: rider, day: day) { state.remove(problem, rider: rider, slot: slot) }
        }
        // A table state is the seats taken on each tour, in mixed radix.
        let rooms = slots.map { max(0, state.limit(problem, slot: $0) - state.load[$0]) }
        var strides: [Int] = []
        var states = 1
        for room in rooms {
            strides.append(states)
            states *= room + 1
        }
        // The sets of tours (bit masks) a delegation may take together: one a day, no venue twice.
        let masks = (1..<(1 << slots.count)).filter { mask in
            let members = slots.indices.filter { mask & (1 << $0) != 0 }.map { slots[$0] }
            return members.allSatisfy { a in
                members.allSatisfy { b in
                    a == b || (problem.day(of: a) != problem.day(of: b) && !state.stops[a].contains(where: state.stops[b].contains))
                }
            }
        }
        var riders: [Int] = []
        var options: [[(mask: Int, value: Int)]] = []
        for rider in 0..<problem.visitors.count {
            // What the delegation gains on each tour (-1: it may not ride it).
            let gains = slots.map {
                state.fits(problem, rider: rider, slot: $0) ? state.tourValue(problem, rider: rider, stops: state.stops[$0]) : -1
            }
            var list: [(mask: Int, value: Int)] = []
            for mask in masks {
                let members = slots.indices.filter { mask & (1 << $0) != 0 }
                guard members.allSatisfy({ gains[$0] >= 0 }) else { continue }
                let value = members.reduce(0) { $0 + gains[$1] }
                if value > 0 { list.append((mask, value)) }
            }
            if !list.isEmpty {
                riders.append(rider)
                options.append(list)
            }
        }
        guard !riders.isEmpty else { return }
        var table = Array(repeating: Int.min, count: states)
        table[0] = 0
        var choice = [UInt8](repeating: 0, count: riders.count * states)
        for (index, list) in options.enumerated() {
            let size = problem.size[riders[index]]
            var next = table
            for (mask, value) in list {
                let step = slots.indices.reduce(0) { $0 + (mask & (1 << $1) != 0 ? size * strides[$1] : 0) }
                for from in 0..<states where table[from] != Int.min {
                    let fits = slots.indices.allSatisfy {
                        mask & (1 << $0) == 0 || (from / strides[$0]) % (rooms[$0] + 1) + size <= rooms[$0]
                    }
                    guard fits, table[from] + value > next[from + step] else { continue }
                    next[from + step] = table[from] + value
                    choice[index * states + from + step] = UInt8(mask)
                }
            }
            table = next
        }
        guard var at = table.indices.max(by: { table[$0] < table[$1] }) else { return }
        for index in riders.indices.reversed() {
            let mask = Int(choice[index * states + at])
            guard mask != 0 else { continue }
            for member in slots.indices where mask & (1 << member) != 0 {
                state.add(problem, rider: riders[index], slot: slots[member])
                at -= problem.size[riders[index]] * strides[member]
            }
        }
    }

    /// Seats a delegation on the combination of tours (at most one a day, no venue twice) with
    /// room for it that gains most, keeping the rides it has.
    private func placeBest(_ state: inout TourState, rider: Int) {
        var best: (gain: Int, slots: [Int]) = (0, [])
        var chosen: [Int] = []
        func search(day: Int, gain: Int) {
            if gain > best.gain { best = (gain, chosen) }
            guard day < problem.dayCount else { return }
            search(day: day + 1, gain: gain)
            guard state.rideOn[rider * problem.dayCount + day] < 0 else { return }
            for bus in 0..<problem.busCount {
                let slot = day * problem.busCount + bus
                guard !locked.contains(slot), !state.stops[slot].isEmpty, state.fits(problem, rider: rider, slot: slot) else { continue }
                let venues = state.stops[slot]
                guard !chosen.contains(where: { state.stops[$0].contains(where: venues.contains) }) else { continue }
                chosen.append(slot)
                search(day: day + 1, gain: gain + state.tourValue(problem, rider: rider, stops: venues))
                chosen.removeLast()
            }
        }
        search(day: 0, gain: 0)
        for slot in best.slots { state.add(problem, rider: rider, slot: slot) }
    }

    /// Now and then moves the remaining tours of the days all early or all late, so that the
    /// room for the rebuilt ones is in one piece.
    private mutating func shake(_ state: inout TourState, days: Set<Int>) {
        for day in days.sorted() {
            switch Int.random(in: 0..<3, using: &random) {
            case 0: state.retime(problem, day: day, late: false, keeping: locked)
            case 1: state.retime(problem, day: day, late: true, keeping: locked)
            default: break
            }
        }
    }

    /// Routes the given empty slots (the most valuable tour first while there are few), then
    /// seats whoever is still free where there is room.
    private mutating func rebuild(_ state: inout TourState, slots: [Int], greedy: Bool = true) {
        var pending = slots
        if !greedy {
            // In a random order, each slot taking its best tour: the first one chosen is not
            // always the one that looks best alone.
            for slot in pending.shuffled(using: &random) {
                let lateness = [0, 1, Double.random(in: 0..<1, using: &random)][Int.random(in: 0..<3, using: &random)]
                if let tour = bestTour(state, slot: slot, noise: 0.25, displacing: true, lateness: lateness) {
                    state.set(problem, slot: slot, route: tour.route, times: tour.times, riders: tour.riders)
                }
            }
        } else if pending.count <= 8 {
            while !pending.isEmpty {
                var best: (index: Int, tour: Candidate)?
                for (index, slot) in pending.enumerated() {
                    guard let tour = bestTour(state, slot: slot, displacing: true) else { continue }
                    if tour.value > best?.tour.value ?? 0 { best = (index, tour) }
                }
                guard let best else { break }
                let slot = pending.remove(at: best.index)
                state.set(problem, slot: slot, route: best.tour.route, times: best.tour.times, riders: best.tour.riders)
            }
        } else {
            // Many at once (the first plan of a large event): round the days, largest bus first.
            pending.sort { (problem.seats[problem.bus(of: $0)], $1) > (problem.seats[problem.bus(of: $1)], $0) }
            let byDay = Dictionary(grouping: pending, by: problem.day(of:))
            let rounds = byDay.values.map(\.count).max() ?? 0
            for round in 0..<rounds {
                for day in 0..<problem.dayCount {
                    guard let slots = byDay[day], round < slots.count else { continue }
                    if let tour = bestTour(state, slot: slots[round], displacing: true) {
                        state.set(problem, slot: slots[round], route: tour.route, times: tour.times, riders: tour.riders)
                    }
                }
            }
        }
        let days = Array(Set(slots.map(problem.day(of:)))).sorted()
        fill(&state, days: days)
        if problem.visitors.count <= polishLimit { for day in days { polish(&state, day: day) } }
    }

    /// Seats delegations without a tour on tours with room, where it gains most (those in
    /// `first` are tried first; the rest in index order).
    private func fill(_ state: inout TourState, days: [Int], first: [Int] = [], excluding: Set<Int> = []) {
        let order = (0..<problem.visitors.count).filter { !excluding.contains($0) } + first
        for day in days {
            let slots = (0..<problem.busCount).map { day * problem.busCount + $0 }.filter {
                !state.stops[$0].isEmpty && !locked.contains($0)
            }
            guard !slots.isEmpty else { continue }
            for rider in order where state.rideOn[rider * problem.dayCount + day] < 0 {
                var best: (slot: Int, gain: Int)?
                for slot in slots where state.fits(problem, rider: rider, slot: slot) {
                    let gain = state.tourValue(problem, rider: rider, stops: state.stops[slot])
                    if gain > best?.gain ?? 0 { best = (slot, gain) }
                }
                if let best { state.add(problem, rider: rider, slot: best.slot) }
            }
        }
    }

    /// Local moves of riders between the day's tours, routes unchanged: a delegation changes
    /// tour, or two change places (one of them possibly without a tour), whenever that gains.
    /// Up to `passes` rounds, or until nothing improves.
    private func polish(_ state: inout TourState, day: Int, passes: Int = 2) {
        let slots = (0..<problem.busCount).map { day * problem.busCount + $0 }.filter {
            !state.stops[$0].isEmpty && !locked.contains($0)
        }
        guard !slots.isEmpty else { return }
        let candidates = (0..<problem.visitors.count).filter { rider in
            movable(state, rider: rider, day: day)
                && slots.contains { slot in state.stops[slot].contains { problem.weight[rider * problem.venueCount + $0] > 0 } }
        }
        // What each candidate gains on each of the day's buses (routes do not change here);
        // column `busCount` is "no tour".
        let width = problem.busCount + 1
        var gains = Array(repeating: 0, count: candidates.count * width)
        for (index, rider) in candidates.enumerated() {
            for slot in slots {
                gains[index * width + problem.bus(of: slot)] = state.tourValue(problem, rider: rider, stops: state.stops[slot])
            }
        }
        let base = day * problem.busCount
        func column(_ slot: Int) -> Int { slot < 0 ? problem.busCount : slot - base }
        for _ in 0..<passes {
            var improved = false
            for (position, a) in candidates.enumerated() {
                let rowA = position * width
                let from = state.rideOn[a * problem.dayCount + day]
                // Change tour.
                for to in slots where to != from && gains[rowA + column(to)] > gains[rowA + column(from)] {
                    if from >= 0 { state.remove(problem, rider: a, slot: from) }
                    if state.fits(problem, rider: a, slot: to) {
                        state.add(problem, rider: a, slot: to)
                        improved = true
                        break
                    }
                    if from >= 0 { state.add(problem, rider: a, slot: from) }
                }
                // Change places with someone on another tour.
                let now = state.rideOn[a * problem.dayCount + day]
                let nowColumn = column(now)
                for offset in (position + 1)..<candidates.count {
                    let b = candidates[offset]
                    let other = state.rideOn[b * problem.dayCount + day]
                    guard other != now, other >= 0 || now >= 0 else { continue }
                    let rowB = offset * width
                    let otherColumn = column(other)
                    guard gains[rowA + otherColumn] + gains[rowB + nowColumn] > gains[rowA + nowColumn] + gains[rowB + otherColumn] else {
                        continue
                    }
                    if now >= 0 { state.remove(problem, rider: a, slot: now) }
                    if other >= 0 { state.remove(problem, rider: b, slot: other) }
                    let fitsA = other < 0 || state.fits(problem, rider: a, slot: other)
                    if fitsA, other >= 0 { state.add(problem, rider: a, slot: other) }
                    if fitsA, now < 0 || state.fits(problem, rider: b, slot: now) {
                        if now >= 0 { state.add(problem, rider: b, slot: now) }
                        improved = true
                        break
                    }
                    if fitsA, other >= 0 { state.remove(problem, rider: a, slot: other) }
                    if now >= 0 { state.add(problem, rider: a, slot: now) }
                    if other >= 0 { state.add(problem, rider: b, slot: other) }
                }
            }
            guard improved else { break }
        }
    }

    // MARK: One bus-day

    struct Candidate {
        var route: [Int]
        var times: [Int]
        var riders: [Int]
        var value: Int
    }

    /// The best tour for an empty slot among those free that day: every route through the
    /// venues most wanted (up to `maxStops` stops, timed around the other groups' visits and
    /// back in time for what follows), each with the riders worth most (exact knapsack).
    ///
    /// With `noise`, routes compete on their value times a random factor in [1 − noise, 1], so
    /// that a bus sometimes leaves the route that looks best alone to another.
    ///
    /// `displacing` also offers the delegations on the day's other tours, at what they would
    /// gain by changing; the value returned is then the plan's gain.
    ///
    /// `lateness` times the chosen route between as early as it fits (0) and as late (1).
    private mutating func bestTour(
        _ state: TourState, slot: Int, noise: Double = 0, displacing: Bool = false, lateness: Double = 0
    ) -> Candidate? {
        let day = problem.day(of: slot)
        let seats = problem.slotSeats[slot]
        let venueCount = problem.venueCount
        // Delegations pinned to this bus that day ride whatever route it takes.
        let mandatory = (0..<problem.visitors.count).filter { problem.pinned[$0 * problem.dayCount + day] == slot }
        let mandatoryLoad = mandatory.reduce(0) { $0 + problem.size[$1] }
        // Per open venue: the delegations that would gain from it, most first. Those on another
        // tour that day count with what they would gain by changing (they may be taken from it,
        // unless pinned or locked there).
        var current = Array(repeating: 0, count: problem.visitors.count)
        for other in 0..<problem.busCount where other != problem.bus(of: slot) {
            let ride = day * problem.busCount + other
            for rider in state.riders[ride] { current[rider] = state.tourValue(problem, rider: rider, stops: state.stops[ride]) }
        }
        var wanted: [(venue: Int, riders: [Int], demand: Int)] = []
        for venue in problem.openVenues[day] {
            var list: [Int] = []
            for rider in 0..<problem.visitors.count where problem.pinned[rider * problem.dayCount + day] < 0 {
                let key = rider * venueCount + venue
                guard problem.weight[key] > 0, state.visitedOn[key] < 0 || state.visitedOn[key] == day else { continue }
                let ride = state.rideOn[rider * problem.dayCount + day]
                if ride < 0 || (displacing && !locked.contains(ride)) { list.append(rider) }
            }
            guard !list.isEmpty || !mandatory.isEmpty else { continue }
            let room = min(seats, problem.capacity[venue])
            let keep = max(candidatesPerVenue, 8 * room)
            let ranked = list.count > keep || problem.openVenues[day].count > venuesPerRoute
            if ranked { list.sort { (problem.weight[$0 * venueCount + venue], $1) > (problem.weight[$1 * venueCount + venue], $0) } }
            // What the venue could give one bus (those who want it most, up to a visit group):
            // only needed to choose among more venues than a route considers.
            var demand = 0
            var taken = 0
            if ranked {
                for rider in list where taken < room {
                    demand += problem.weight[rider * venueCount + venue]
                    taken += problem.size[rider]
                }
            }
            wanted.append((venue, Array(list.prefix(keep)), demand))
        }
        guard !wanted.isEmpty else { return nil }
        if wanted.count > venuesPerRoute {
            wanted = Array(wanted.sorted { ($0.demand, $1.venue) > ($1.demand, $0.venue) }.prefix(venuesPerRoute))
        }
        var best: Candidate?
        var bestScore = mandatory.isEmpty ? 0.0 : -Double.infinity
        var mark = Array(repeating: 0, count: problem.visitors.count)  // route number, so each rider counts once per route
        var routeNumber = 0
        var route: [Int] = []
        var times: [Int] = []

        func consider() {
            routeNumber += 1
            let limit = route.reduce(seats) { min($0, problem.capacity[$1]) } - mandatoryLoad
            guard limit >= 0 else { return }
            var fixed = 0
            for rider in mandatory {
                for stop in route {
                    let key = rider * venueCount + stop
                    guard problem.allowed[key], state.visitedOn[key] < 0 || state.visitedOn[key] == day else { return }
                    fixed += problem.weight[key]
                }
            }
            var items: [(rider: Int, size: Int, value: Int)] = []
            for venue in route {
                guard let list = wanted.first(where: { $0.venue == venue })?.riders else { continue }
                for rider in list where mark[rider] != routeNumber {
                    mark[rider] = routeNumber
                    let size = problem.size[rider]
                    guard size <= limit else { continue }
                    var value = -current[rider]
                    var ok = true
                    for stop in route {
                        let key = rider * venueCount + stop
                        guard problem.allowed[key], state.visitedOn[key] < 0 || state.visitedOn[key] == day else {
                            ok = false
                            break
                        }
                        value += problem.weight[key]
                    }
                    if ok, value > 0 { items.append((rider, size, value)) }
                }
            }
            guard !items.isEmpty || !mandatory.isEmpty else { return }
            // A bound first (all the items, or the best value per seat times the seats): a route
            // that cannot beat the best so far is not solved.
            var total = 0
            var density = 0.0
            for item in items {
                total += item.value
                density = max(density, Double(item.value) / Double(item.size))
            }
            let bound = Double(fixed) + min(Double(total), density * Double(limit))
            let factor = noise > 0 ? 1 - Double.random(in: 0..<noise, using: &random) : 1
            guard bound * factor > bestScore else { return }
            let (gained, chosen) = Self.knapsack(items.map { ($0.size, $0.value) }, capacity: limit)
            let value = fixed + gained
            if Double(value) * factor > bestScore {
                bestScore = Double(value) * factor
                // A bus carrying pinned delegations must run; it counts as worth more than any choice.
                best = Candidate(
                    route: route, times: state.timed(problem, day: day, route: route, earliest: times, lateness: lateness),
                    riders: mandatory + chosen.map { items[$0].rider },
                    value: value + (mandatory.isEmpty ? 0 : TourProblem.requiredBonus))
            }
        }

        func extend(cursor: Int, position: Int) {
            for entry in wanted where !route.contains(entry.venue) {
                guard let arrival = state.arrival(problem, day: day, venue: entry.venue, after: cursor, from: position) else { continue }
                let leaves = arrival + problem.visitSeconds[entry.venue]
                route.append(entry.venue)
                times.append(arrival)
                if problem.returnsInTime(day: day, from: entry.venue, at: leaves) { consider() }
                if route.count < problem.maxStops { extend(cursor: leaves, position: entry.venue) }
                route.removeLast()
                times.removeLast()
            }
        }
        extend(cursor: problem.dayStart[day], position: problem.depot[day])
        return best
    }

    /// 0/1 knapsack by dynamic programming over capacity: the best value and the items taken.
    static func knapsack(_ items: [(size: Int, value: Int)], capacity: Int) -> (Int, [Int]) {
        guard capacity > 0, !items.isEmpty else { return (0, []) }
        let width = capacity + 1
        var table = Array(repeating: 0, count: width)
        var take = Array(repeating: false, count: items.count * width)
        for (index, item) in items.enumerated() where item.size <= capacity {
            for room in stride(from: capacity, through: item.size, by: -1) {
                let with = table[room - item.size] + item.value
                if with > table[room] {
                    table[room] = with
                    take[index * width + room] = true
                }
            }
        }
        var chosen: [Int] = []
        var room = capacity
        for index in stride(from: items.count - 1, through: 0, by: -1) where take[index * width + room] {
            chosen.append(index)
            room -= items[index].size
        }
        return (table[capacity], chosen.reversed())
    }
}
