import Foundation
import GRDB
import ItineraryPlanner
import Messages
import ServiceRuntime
import TestSupport
import Testing

@testable import ItinerariesCore

/// The organisers steering the plan, in-process: overrides and re-optimisation requests in
/// through the handler, `PlanningService.replan` called directly, the answers read from the
/// outbox. No broker, no sleeps.
@Suite struct PlanSteeringTests {
    static let eventID = ItinerariesRulesTests.eventID

    /// The seed scenario planned once (a shorter search than production's, same rules).
    static func planned() async throws -> (HandlerHarness, PlanningService, [RegistrationAccepted]) {
        let (harness, _, accepted) = try await ItinerariesRulesTests.seeded()
        var shorter = Planner()
        (shorter.searchIterations, shorter.searchTimeLimit) = (100, nil)
        let planner = shorter
        let planning = ItinerariesRulesTests.planning(harness) { planner.plan($0, previous: $1) }
        try await planning.replan(eventID)
        _ = try await harness.emitted()
        return (harness, planning, accepted)
    }

    static func plan(_ harness: HandlerHarness) async throws -> (version: Int, plan: Plan) {
        try #require(try await ItinerariesRulesTests.latestPlan(harness))
    }

    static func request(
        _ id: String, _ kind: PlanOverrideRequested.Kind?, reference: String? = nil, bus: String? = nil,
        day: String? = nil, venue: String? = nil, seats: Int? = nil, withdraw: Bool = false
    ) -> PlanOverrideRequested {
        PlanOverrideRequested(
            eventID: eventID, overrideID: id, kind: kind, withdraw: withdraw, reference: reference, busID: bus, day: day, venueID: venue,
            seats: seats, reason: "test", requestedBy: "organiser")
    }

    @Test func aPinIsAppliedWithItsCostAndTellsOnlyThoseItMoves() async throws {
        let (harness, planning, accepted) = try await Self.planned()
        let (version, before) = try await Self.plan(harness)
        // A delegation on a tour on the 14th goes to another bus.
        let tour = try #require(before.tours.first { $0.day == "2026-01-14" })
        let mover = try #require(accepted.first { tour.passengers.contains($0.registrationID) })
        let other = try #require(["bus-45a", "bus-29a", "bus-16a"].first { $0 != tour.busID })
        try await harness.send(Self.request("pin-1", .pin, reference: mover.reference, bus: other, day: "2026-01-14"))
        #expect(try await harness.emitted().isEmpty, "decided by the planning service, with the plan")
        try await planning.replan(Self.eventID)
        let emitted = try await harness.emitted()
        let decided = try #require(emitted.of(PlanOverrideDecided.self).first)
        #expect(decided.outcome == .applied && decided.overrideID == "pin-1" && (decided.cost ?? -1) >= 0)
        let (after, plan) = try await Self.plan(harness)
        #expect(after == version + 1 && decided.planVersion == after)
        #expect(plan.tour(of: mover.registrationID, on: "2026-01-14")?.busID == other)
        #expect(plan.overrideCosts["pin-1"] == decided.cost && plan.unmetOverrides.isEmpty)
        let changed = Set(emitted.of(ItineraryChanged.self).map(\.registrationID))
        #expect(changed.contains(mover.registrationID))
        #expect(changed.isSubset(of: Set(PlanningService.moved(from: before, to: plan))), "only those whose tours changed hear of it")

        // It survives a cancellation and a restart (a new planning service on the same store).
        let riders = Set(plan.tours.flatMap(\.passengers))
        let leaving = try #require(accepted.first { $0.registrationID != mover.registrationID && riders.contains($0.registrationID) })
        try await harness.send(
            RegistrationCancelled(
                registrationID: leaving.registrationID, eventID: leaving.eventID, reference: leaving.reference, reason: nil,
                delegation: leaving.delegation.withoutIdentityDocuments, cancelledAt: Date()))
        try await ItinerariesRulesTests.planning(harness).replan(Self.eventID)
        let (_, later) = try await Self.plan(harness)
        #expect(later.tour(of: mover.registrationID, on: "2026-01-14")?.busID == other)
        #expect(try await harness.emitted().of(PlanOverrideDecided.self).isEmpty, "decided once")
    }

    @Test func aContradictoryOverrideIsRefusedAndChangesNothing() async throws {
        let (harness, planning, accepted) = try await Self.planned()
        let (version, _) = try await Self.plan(harness)
        let someone = try #require(accepted.first)
        try await harness.send(Self.request("keep", .forbidVisit, reference: someone.reference, venue: "dsac"))
        try await harness.send(Self.request("clash", .requireVisit, reference: someone.reference, venue: "dsac"))
        try await planning.replan(Self.eventID)
        let decided = try await harness.emitted().of(PlanOverrideDecided.self)
        let refused = try #require(decided.first { $0.overrideID == "clash" })
        #expect(refused.outcome == .refused && refused.reason?.contains("forbidden to visit dsac (keep)") == true)
        #expect(decided.first { $0.overrideID == "keep" }?.outcome == .applied)
        let (_, plan) = try await Self.plan(harness)
        #expect(!plan.tours.contains { $0.passengers.contains(someone.registrationID) && $0.stops.contains { $0.venueID == "dsac" } })
        let kept = try await harness.read { db in try ItineraryStore.overrides(eventID: Self.eventID, in: db).map(\.overrideID) }
        #expect(kept == ["keep"], "a refused override is not kept")
        #expect(try await Self.plan(harness).version >= version)

        // A request without what its kind needs is refused at once; a withdrawal is said.
        try await harness.send(Self.request("half", .pin, reference: someone.reference))
        let half = try #require(try await harness.emitted().of(PlanOverrideDecided.self).first)
        #expect(half.outcome == .refused && half.reason == "pin needs busID, day")
        try await harness.send(Self.request("keep", nil, withdraw: true))
        #expect(try await harness.emitted().of(PlanOverrideDecided.self).first?.outcome == .withdrawn)
        try await harness.send(Self.request("never", nil, withdraw: true))
        #expect(try await harness.emitted().of(PlanOverrideDecided.self).first?.outcome == .refused)
    }

    @Test func aReoptimisationIsPreviewedThenAppliedAndAStalePreviewRefused() async throws {
        let (harness, planning, accepted) = try await Self.planned()
        // A cancellation re-planned stably leaves room a full re-optimisation can use.
        let leaving = try #require(accepted.last)
        try await harness.send(
            RegistrationCancelled(
                registrationID: leaving.registrationID, eventID: leaving.eventID, reference: leaving.reference, reason: nil,
                delegation: leaving.delegation.withoutIdentityDocuments, cancelledAt: Date()))
        try await planning.replan(Self.eventID)
        _ = try await harness.emitted()
        let (version, inForce) = try await Self.plan(harness)

        try await harness.send(PlanReoptimiseRequested(eventID: Self.eventID, requestID: "preview-1", requestedBy: "organiser"))
        let due = try await harness.read { db in try ItineraryStore.planning(now: Date(), debounce: 60, maxWait: 600, in: db) }
        #expect(due.due == [Self.eventID] && due.triggers == [Self.eventID: .request], "a request is due at once")
        try await planning.replan(Self.eventID)
        let previewed = try await harness.emitted()
        let preview = try #require(previewed.of(PlanReoptimised.self).first)
        #expect(previewed.count == 1, "a preview tells no delegation anything")
        #expect(preview.outcome == .previewed && preview.basedOnVersion == version)
        #expect(preview.valueBefore > 0 && preview.valueAfter > 0)
        #expect(try await Self.plan(harness).version == version, "nothing applied yet")

        try await harness.send(PlanReoptimiseRequested(eventID: Self.eventID, requestID: "apply-1", applyPreview: "preview-1"))
        try await planning.replan(Self.eventID)
        let applied = try await harness.emitted()
        let answer = try #require(applied.of(PlanReoptimised.self).first)
        #expect(answer.outcome == .applied && answer.planVersion == version + 1)
        #expect(answer.moved == preview.moved && answer.valueAfter == preview.valueAfter)
        let (_, now) = try await Self.plan(harness)
        #expect(PlanningService.moved(from: inForce, to: now) == preview.moved)
        let told = Set(applied.of(ItineraryChanged.self).map(\.registrationID))
        #expect(told.isSubset(of: Set(preview.moved)))

        // Applied once; and a preview made before a change is refused.
        try await harness.send(PlanReoptimiseRequested(eventID: Self.eventID, requestID: "apply-2", applyPreview: "preview-1"))
        try await harness.send(PlanReoptimiseRequested(eventID: Self.eventID, requestID: "preview-2"))
        try await planning.replan(Self.eventID)
        let answers = try await harness.emitted().of(PlanReoptimised.self)
        #expect(answers.first { $0.requestID == "apply-2" }?.outcome == .refused)
        try await harness.send(Self.request("reserve-1", .reserveSeats, bus: "bus-16a", seats: 2))
        try await harness.send(PlanReoptimiseRequested(eventID: Self.eventID, requestID: "apply-3", applyPreview: "preview-2"))
        try await planning.replan(Self.eventID)
        let stale = try #require(try await harness.emitted().of(PlanReoptimised.self).first { $0.requestID == "apply-3" })
        #expect(stale.outcome == .refused && stale.reason?.contains("preview again") == true)
    }
}
