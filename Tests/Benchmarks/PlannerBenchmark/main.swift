// The planner's benchmark; `deploy/bench-planner` runs it for the seed scenario and synthetic
// events of 500 and 5,000 delegations.
//
//   planner-bench --programme P.json --registrations R.json [--runs 20]
//   planner-bench --synthetic N [--venues 50] [--seed 1] [--runs 5]
//   ... --pieces K   also plans the delegations as if they came K at a time, each piece planned
//                    around the plan of those before it (pieces_score)
//
// Prints one JSON line: plan time (median of runs), re-plan time after one cancellation and
// after one new registration (medians), how many delegations the cancellation moved, peak
// memory, score and hard-constraint violations.
import Foundation
import ItineraryPlanner
import Messages

struct Failure: Error, CustomStringConvertible {
    let description: String
}

func danang(day: Int, _ hour: Int, _ minute: Int = 0) -> Date {
    var components = DateComponents()
    (components.year, components.month, components.day, components.hour, components.minute) = (2026, 1, day, hour, minute)
    components.timeZone = TimeZone(secondsFromGMT: 7 * 3600)
    return Calendar(identifier: .gregorian).date(from: components) ?? Date(timeIntervalSince1970: 0)
}

func synthetic(delegations count: Int, venues venueCount: Int, seed: UInt64) -> PlanningInput {
    var random = SplitMix64(state: seed)
    let tags = [
        "logistics", "ai", "e-commerce", "semiconductors", "manufacturing", "fintech", "clean-energy", "seaport", "startups",
        "digital-marketing", "tourism", "biotech",
    ]
    let hall = Venue(
        id: "hall", name: LocalizedText(en: "Hall"), address: "Da Nang", coordinates: Coordinates(latitude: 16.06, longitude: 108.22),
        openingWindows: [],
        visitMinutes: 0, capacityPerVisit: 10_000, topics: [], isSiteVisit: false)
    var venues = [hall]
    for index in 0..<venueCount {
        let day = 13 + index % 2
        let opens = day == 13 ? 13 : 8 + Int.random(in: 0...2, using: &random)
        venues.append(
            Venue(
                id: "venue-\(index)", name: LocalizedText(en: "Venue \(index)"), address: "Street \(index)",
                coordinates: Coordinates(
                    latitude: 15.95 + Double.random(in: 0...0.25, using: &random),
                    longitude: 108.0 + Double.random(in: 0...0.3, using: &random)),
                openingWindows: [
                    TimeWindow(
                        start: danang(day: day, opens), end: danang(day: day, min(18, opens + 5 + Int.random(in: 0...3, using: &random))))
                ],
                visitMinutes: [45, 60, 75, 90][Int.random(in: 0...3, using: &random)],
                capacityPerVisit: Int.random(in: 20...45, using: &random),
                topics: Array(tags.shuffled(using: &random).prefix(2)),
                restrictedAccess: index % 7 == 3 ? RestrictedAccess(documents: [.passport], deadline: danang(day: 9, 17)) : nil))
    }
    let people = count * 3
    let buses = (0..<max(3, people / 40)).map { Bus(id: "bus-\($0)", seats: [16, 29, 45][$0 % 3]) }
    let slots = (0..<4).map {
        MeetingSlot(
            id: "slot-\($0)", venueID: "hall", start: danang(day: 13, 11).addingTimeInterval(Double($0) * 1800),
            end: danang(day: 13, 11).addingTimeInterval(Double($0 + 1) * 1800), tables: max(10, count / 20))
    }
    let programme = ProgrammePublished(
        eventID: "synthetic-\(count)", version: 1, name: LocalizedText(en: "Synthetic \(count)"), timeZone: "Asia/Ho_Chi_Minh",
        days: ["2026-01-13", "2026-01-14"], capacity: EventCapacity(organisations: count, delegates: people * 2),
        sessions: [
            FixedSession(
                id: "networking", title: LocalizedText(en: "Networking"), venueID: "hall", start: danang(day: 13, 9),
                end: danang(day: 13, 11))
        ],
        venues: venues, buses: buses, travel: TravelTimes(),
        interpreters: (0..<max(3, count / 50)).map {
            Interpreter(id: "int-\($0)", languages: [.chineseSimplified, [.vietnamese, .english][$0 % 2]])
        },
        meetingSlots: slots, publishedAt: danang(day: 2, 9))
    let delegations = (0..<count).map { index -> PlanningDelegation in
        let size = Int.random(in: 1...5, using: &random)
        let host = index % 7 == 0
        let interests = Array(tags.shuffled(using: &random).prefix(Int.random(in: 2...4, using: &random))).sorted()
        return PlanningDelegation(
            id: String(format: "d%05d", index), name: "Company \(index)", role: host ? .host : .visiting, size: size,
            interpreterLanguages: Int.random(in: 0...2, using: &random) == 0 ? [.chineseSimplified] : [], interests: interests,
            sectors: Array(tags.shuffled(using: &random).prefix(2)).sorted(),
            preferredVisits: host
                ? [] : (0..<Int.random(in: 1...4, using: &random)).map { _ in "venue-\(Int.random(in: 0..<venueCount, using: &random))" },
            documentKinds: Array(repeating: index % 11 == 5 ? nil : .passport, count: size), documentsGivenAt: danang(day: 5, 9))
    }
    return PlanningInput(programme: programme, delegations: delegations)
}

func load(programme: String, registrations: String) throws -> PlanningInput {
    guard let p = FileManager.default.contents(atPath: programme), let r = FileManager.default.contents(atPath: registrations) else {
        throw Failure(description: "cannot read the input files")
    }
    let programme = try MessageCoding.decode(ProgrammePublished.self, from: p)
    let submitted = try MessageCoding.decode([RegistrationSubmitted].self, from: r)
    return PlanningInput(
        programme: programme,
        delegations: submitted.map { s in
            PlanningDelegation(
                RegistrationAccepted(
                    registrationID: s.reference, eventID: s.eventID, reference: s.reference, revision: s.revision, delegation: s.delegation,
                    acceptedAt: s.submittedAt ?? programme.publishedAt, submittedAt: s.submittedAt))
        })
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
}

func milliseconds(_ body: () -> Void) -> Double {
    let start = ContinuousClock.now
    body()
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
}

func peakResidentMegabytes() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

do {
    var arguments = Array(CommandLine.arguments.dropFirst())
    func option(_ name: String) -> String? {
        guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
        defer { arguments.removeSubrange(index...(index + 1)) }
        return arguments[index + 1]
    }
    let runs = option("--runs").flatMap(Int.init) ?? 5
    let name: String
    let input: PlanningInput
    if let count = option("--synthetic").flatMap(Int.init) {
        let venues = option("--venues").flatMap(Int.init) ?? 50
        input = synthetic(delegations: count, venues: venues, seed: UInt64(option("--seed").flatMap(Int.init) ?? 1))
        name = "synthetic-\(count)x\(venues)"
    } else if let programme = option("--programme"), let registrations = option("--registrations") {
        input = try load(programme: programme, registrations: registrations)
        name = "seed"
    } else {
        throw Failure(
            description:
                "usage: planner-bench --synthetic N [--venues V] [--seed S] [--runs K] | --programme P --registrations R [--runs K]")
    }
    var planner = Planner()
    if let iterations = option("--iterations").flatMap(Int.init) { planner.searchIterations = iterations }
    if let seed = option("--search-seed").flatMap(UInt64.init) { planner.searchSeed = seed }
    var plan = planner.plan(input)  // warm-up
    let full = median((0..<runs).map { _ in milliseconds { plan = planner.plan(input) } })
    // One change: the first visiting delegation cancels / a new one registers.
    let gone = input.delegations.first { $0.role == .visiting }?.id ?? ""
    let afterCancellation = PlanningInput(programme: input.programme, delegations: input.delegations.filter { $0.id != gone })
    var newcomer = input.delegations.first { $0.role == .visiting }
    newcomer?.id = "newcomer"
    let afterArrival = PlanningInput(programme: input.programme, delegations: input.delegations + (newcomer.map { [$0] } ?? []))
    var replanned = plan
    let cancellation = median((0..<runs).map { _ in milliseconds { replanned = planner.plan(afterCancellation, previous: plan) } })
    let arrival = median((0..<runs).map { _ in milliseconds { _ = planner.plan(afterArrival, previous: plan) } })
    let checker = PlanChecker()
    let score = checker.score(of: plan, for: input)
    // Arriving in pieces: each piece planned around the plan of those before it (what a short
    // planning wait does to an import spread over several waits).
    var pieces: [String: Any] = [:]
    if let size = option("--pieces").flatMap(Int.init), size > 0 {
        var sofar: Plan?
        var arrived: [PlanningDelegation] = []
        for first in stride(from: 0, to: input.delegations.count, by: size) {
            arrived += input.delegations[first..<min(first + size, input.delegations.count)]
            sofar = planner.plan(PlanningInput(programme: input.programme, delegations: arrived), previous: sofar)
        }
        if let sofar {
            pieces = [
                "pieces_of": size, "pieces_score": (checker.score(of: sofar, for: input).total * 10).rounded() / 10,
                "pieces_violations": checker.violations(of: sofar, for: input).count,
            ]
        }
    }
    // Moved: had a tour and lost it, changed bus, or lost or re-timed a visit (a visit added at
    // the end of its tour is not a move).
    let moved = input.delegations.filter { $0.id != gone && $0.role == .visiting }.count { delegation in
        input.programme.days.contains { day in
            guard let before = plan.tour(of: delegation.id, on: day) else { return false }
            guard let after = replanned.tour(of: delegation.id, on: day), after.busID == before.busID else { return true }
            return Array(after.stops.prefix(before.stops.count)) != before.stops
        }
    }
    let result: [String: Any] = [
        "instance": name, "delegations": input.delegations.count, "venues": input.programme.venues.filter(\.isSiteVisit).count,
        "buses": input.programme.buses.count, "runs": runs, "plan_ms": (full * 10).rounded() / 10,
        "replan_cancellation_ms": (cancellation * 10).rounded() / 10, "replan_arrival_ms": (arrival * 10).rounded() / 10,
        "moved_after_cancellation": moved, "peak_rss_mb": (peakResidentMegabytes() * 10).rounded() / 10,
        "score": (score.total * 10).rounded() / 10, "visit_value": score.visitValue, "preferred_granted": score.preferredGranted,
        "preferred_asked": score.preferredAsked, "meetings": plan.meetings.count, "tours": plan.tours.count,
        "violations": checker.violations(of: plan, for: input).count + checker.violations(of: replanned, for: afterCancellation).count,
    ].merging(pieces) { first, _ in first }
    print(String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]), as: UTF8.self))
} catch {
    FileHandle.standardError.write(Data("planner-bench: \(error)\n".utf8))
    exit(1)
}
