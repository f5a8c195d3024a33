import Foundation
import ItineraryPlanner
import Messages
import TestSupport
import Testing

/// The organisers' overrides: hard constraints in a fresh plan and in a stable re-plan, and
/// refused (never half-applied) when they contradict each other or the event.
@Suite struct OverrideTests {
    let planner = Planner.untimed
    let checker = PlanChecker()
    static let day = "2026-01-13"

    /// Two buses, two venues, eight delegations who all want "a" most.
    static func input(_ overrides: [PlanningOverride] = [], without: Set<String> = []) -> PlanningInput {
        PlanningInput(
            programme: Instance.programme(
                venues: [Instance.venue("a", capacity: 12, topics: ["ai"]), Instance.venue("b", capacity: 12)],
                buses: [Bus(id: "b1", seats: 12), Bus(id: "b2", seats: 12)]),
            delegations: (0..<8).map { Instance.delegation("d\($0)", size: 3, prefers: ["a", "b"]) }.filter { !without.contains($0.id) },
            overrides: overrides)
    }

    func planAndCheck(_ input: PlanningInput, previous: Plan? = nil) -> Plan {
        let plan = planner.plan(input, previous: previous)
        let violations = checker.violations(of: plan, for: input)
        #expect(violations.isEmpty, "hard constraints broken: \(violations)")
        #expect(plan.unmetOverrides.isEmpty, "\(plan.unmetOverrides)")
        return plan
    }

    @Test func aPinnedDelegationRidesItsBusInAFreshPlanAndAfterAReplan() throws {
        let free = planner.plan(Self.input())
        let tour = try #require(free.tour(of: "d0", on: Self.day))
        let other = tour.busID == "b1" ? "b2" : "b1"
        let pin = PlanningOverride(id: "o1", kind: .pin, delegationID: "d0", busID: other, day: Self.day)
        let fresh = planAndCheck(Self.input([pin]))
        #expect(fresh.tour(of: "d0", on: Self.day)?.busID == other)
        // On the stable path only the tours it concerns change, and the pin holds after a
        // later cancellation as well.
        let stable = planAndCheck(Self.input([pin]), previous: free)
        #expect(stable.tour(of: "d0", on: Self.day)?.busID == other)
        let gone = try #require(stable.tours.flatMap(\.passengers).first { $0 != "d0" })
        let later = planAndCheck(Self.input([pin], without: [gone]), previous: stable)
        #expect(later.tour(of: "d0", on: Self.day)?.busID == other)
        for id in stable.delegations where id != gone {
            #expect(later.tour(of: id, on: Self.day)?.busID == stable.tour(of: id, on: Self.day)?.busID, "\(id) moved")
        }
    }

    @Test func aRequiredVisitIsMadeAndAForbiddenOneNeverWithItsReason() {
        let require = PlanningOverride(id: "o1", kind: .requireVisit, delegationID: "d7", venueID: "b")
        let forbid = PlanningOverride(id: "o2", kind: .forbidVisit, delegationID: "d0", venueID: "a")
        let plan = planAndCheck(Self.input([require, forbid]))
        #expect(plan.tours.contains { $0.passengers.contains("d7") && $0.stops.contains { $0.venueID == "b" } })
        #expect(!plan.tours.contains { $0.passengers.contains("d0") && $0.stops.contains { $0.venueID == "a" } })
        #expect(plan.unmet["d0"]?.first { $0.venueID == "a" }?.reason == .organiser)
    }

    @Test func aLockedTourStaysAsItIsWhenEverythingElseIsPlannedAgain() throws {
        let before = planner.plan(Self.input())
        let tour = try #require(before.tours.first)
        let lock = PlanningOverride(id: "o1", kind: .lockTour, busID: tour.busID, day: tour.day, tour: tour)
        var reordered = Self.input([lock])
        reordered.delegations.append(Instance.delegation("late", size: 2, prefers: ["a"]))
        let after = planAndCheck(reordered)
        let kept = try #require(after.tours.first { $0.busID == tour.busID && $0.day == tour.day })
        #expect(kept.stops == tour.stops && kept.passengers == tour.passengers)
    }

    @Test func reservedSeatsStayFree() {
        let reserve = PlanningOverride(id: "o1", kind: .reserveSeats, busID: "b1", seats: 5)
        let plan = planAndCheck(Self.input([reserve]))
        let load = plan.tours.filter { $0.busID == "b1" }.map { $0.passengers.count * 3 }.max() ?? 0
        #expect(load <= 7, "12 seats, 5 kept free")
        #expect(plan.tours.contains { $0.busID == "b1" }, "the bus still runs with the rest")
    }

    @Test func contradictoryOverridesAreRefusedWithTheReasonAndTheOthersStillHold() {
        let overrides = [
            PlanningOverride(id: "keep", kind: .requireVisit, delegationID: "d1", venueID: "b"),
            PlanningOverride(id: "contradicts", kind: .forbidVisit, delegationID: "d1", venueID: "b"),
            PlanningOverride(id: "no-bus", kind: .pin, delegationID: "d2", busID: "b9", day: Self.day),
            PlanningOverride(id: "too-many", kind: .reserveSeats, busID: "b2", seats: 13),
            PlanningOverride(id: "no-tour", kind: .lockTour, busID: "b2", day: Self.day),
            PlanningOverride(id: "no-one", kind: .pin, delegationID: "nobody", busID: "b1", day: Self.day),
        ]
        let input = Self.input(overrides)
        let refused = OverrideRules.contradictions(overrides, input)
        #expect(Set(refused.keys) == ["contradicts", "no-bus", "too-many", "no-tour", "no-one"])
        #expect(refused["contradicts"]?.contains("required to visit b (keep)") == true)
        let plan = planner.plan(input)
        #expect(Set(plan.unmetOverrides.keys) == Set(refused.keys))
        #expect(plan.tours.contains { $0.passengers.contains("d1") && $0.stops.contains { $0.venueID == "b" } })
        #expect(checker.violations(of: plan, for: input).isEmpty)
    }

    @Test func anOverrideNoPlanCanKeepIsReportedNotHalfKept() {
        // "a" is open 13:00-14:00 but 150 minutes away: nothing in the overrides contradicts,
        // yet no tour can get there. The plan says so and keeps everything else.
        let overrides = [
            PlanningOverride(id: "pin", kind: .pin, delegationID: "d0", busID: "b1", day: Self.day),
            PlanningOverride(id: "req", kind: .requireVisit, delegationID: "d4", venueID: "a"),
        ]
        var input = Self.input(overrides)
        input.programme.venues = input.programme.venues.map { venue in
            var venue = venue
            if venue.id == "a" { venue.openingWindows = [TimeWindow(start: Samples.danang(13), end: Samples.danang(14))] }
            return venue
        }
        input.programme.travel = TravelTimes(matrix: [TravelTime(from: "hall", to: "a", minutes: 150)])
        #expect(OverrideRules.contradictions(overrides, input).isEmpty)
        let plan = planner.plan(input)
        #expect(checker.violations(of: plan, for: input).isEmpty)
        #expect(plan.unmetOverrides.keys.sorted() == ["req"])
        #expect(plan.tour(of: "d0", on: Self.day)?.busID == "b1")
    }
}
