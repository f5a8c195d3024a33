import Foundation
import Messages
import TestSupport
import Testing

@testable import ItineraryPlanner

/// The search's exact move: the riders of two tours seated again together. Checked against
/// every possible seating of small random instances.
@Suite struct ReseatTests {
    @Test func seatingTwoToursTogetherFindsTheBestSeatingThereIs() {
        var random = SplitMix64(state: 42)
        // "a" is open on both days, so nobody may take both tours; "b" only on the second.
        var a = Instance.venue("a", capacity: 9, day: 13, from: 13, to: 15)
        a.openingWindows.append(TimeWindow(start: Samples.danang(day: 14, 13), end: Samples.danang(day: 14, 15)))
        let b = Instance.venue("b", capacity: 8, day: 14, from: 15, to: 17)
        let programme = Instance.programme(
            venues: [a, b], buses: [Bus(id: "bus-1", seats: 7), Bus(id: "bus-2", seats: 10)], days: ["2026-01-13", "2026-01-14"])
        for trial in 0..<40 {
            let delegations = (0..<Int.random(in: 3...8, using: &random)).map { index in
                Instance.delegation(
                    "d\(index)", size: Int.random(in: 1...5, using: &random),
                    prefers: [["a"], ["b"], ["a", "b"], ["b", "a"], []][Int.random(in: 0..<5, using: &random)])
            }
            let problem = TourProblem(model: EventModel(programme), visitors: delegations, maxStops: 3)
            // Day 1: bus-1 to "a"; day 2: bus-2 to "a" then "b". No riders yet.
            let tours = [
                Tour(
                    busID: "bus-1", day: "2026-01-13", departure: Samples.danang(day: 13, 12),
                    stops: [Stop(venueID: "a", arrival: Samples.danang(day: 13, 13), departure: Samples.danang(day: 13, 14))],
                    passengers: []),
                Tour(
                    busID: "bus-2", day: "2026-01-14", departure: Samples.danang(day: 14, 12),
                    stops: [
                        Stop(venueID: "a", arrival: Samples.danang(day: 14, 13), departure: Samples.danang(day: 14, 14)),
                        Stop(venueID: "b", arrival: Samples.danang(day: 14, 15), departure: Samples.danang(day: 14, 16)),
                    ],
                    passengers: []),
            ]
            var state = problem.state(with: tours)
            let slots = [0 * problem.busCount + 0, 1 * problem.busCount + 1]
            #expect(slots.allSatisfy { !state.stops[$0].isEmpty })
            TourSearch(problem: problem, iterations: 0).reseat(&state, slots: slots)
            #expect(state.value == Self.bestSeating(problem, state: state, slots: slots), "trial \(trial)")
            for slot in slots { #expect(state.load[slot] <= state.limit(problem, slot: slot), "trial \(trial)") }
            for rider in delegations.indices {
                let rides = slots.filter { state.riders[$0].contains(rider) }
                #expect(rides.count <= 1, "trial \(trial): \(delegations[rider].id) would see \"a\" twice")
            }
        }
    }

    /// Every way to seat the delegations (none, the first tour, or the second: they share "a"),
    /// within seats and visit groups: the most it is worth.
    static func bestSeating(_ problem: TourProblem, state: TourState, slots: [Int]) -> Int {
        let limits = slots.map { state.limit(problem, slot: $0) }
        var best = 0
        func seat(_ rider: Int, loads: [Int], value: Int) {
            guard rider < problem.visitors.count else {
                best = max(best, value)
                return
            }
            seat(rider + 1, loads: loads, value: value)
            for (index, slot) in slots.enumerated() where loads[index] + problem.size[rider] <= limits[index] {
                guard state.stops[slot].allSatisfy({ problem.allowed[rider * problem.venueCount + $0] }) else { continue }
                var next = loads
                next[index] += problem.size[rider]
                seat(rider + 1, loads: next, value: value + state.tourValue(problem, rider: rider, stops: state.stops[slot]))
            }
        }
        seat(0, loads: slots.map { _ in 0 }, value: 0)
        return best
    }
}
