import Foundation
import GRDB
import ItineraryPlanner
import Messages
import ServiceRuntime
import Synchronization
import TestSupport
import Testing

@testable import ItinerariesCore

/// Planning in-process: the handler on a temporary store, the seed scenario in through its
/// entry point, `PlanningService.replan` called directly, and what it told read from the
/// outbox. No broker, no sleeps.
@Suite struct ItinerariesRulesTests {
    static let eventID = "danang-china-2026-01"  // the seed programme's

    static func harness() throws -> HandlerHarness {
        try HandlerHarness(ItinerariesHandler(vault: .ephemeral()).dispatcher, migrations: ItineraryStore.migrate)
    }

    static func planning(_ harness: HandlerHarness, plan: (@Sendable (PlanningInput, Plan?) -> Plan)? = nil) -> PlanningService {
        let context = harness.context(
            ServiceConfiguration(serviceName: "itineraries", amqp: TestBroker.configuration("rules"), storePath: "unused"))
        // These tests are about when planning happens and who is told, not how good the plan is
        // (PlanSearchTests): a short search keeps the debug build's CPU for the tests beside them.
        var planner = Planner()
        planner.searchIterations = 150
        planner.searchTimeLimit = nil
        guard let plan else { return PlanningService(context: context, debounce: 1, maxWait: 10, planner: planner) }
        return PlanningService(context: context, debounce: 1, maxWait: 10, plan: plan)
    }

    /// The seed programme and every seed registration accepted.
    static func seeded() async throws -> (HandlerHarness, ProgrammePublished, [RegistrationAccepted]) {
        let (programme, accepted) = try ItinerariesServiceTests.seed()
        let harness = try Self.harness()
        try await harness.send(programme)
        for registration in accepted { try await harness.send(registration, correlationID: "corr-\(registration.reference)") }
        return (harness, programme, accepted)
    }

    static func latestPlan(_ harness: HandlerHarness) async throws -> (version: Int, plan: Plan)? {
        try await harness.read { db in try ItineraryStore.latestPlan(eventID: eventID, in: db) }
    }

    /// A plan takes seconds of CPU: it is made on a thread of its own, never on one of Swift's
    /// cooperative threads (one per core), which the pipeline, the relay, the timers and HTTP of
    /// the same process need meanwhile (with one core, a plan on them would stop them all).
    @Test func plansAreMadeOffTheThreadsThePipelineRunsOn() async throws {
        final class Calls: Sendable {
            let inATask = Mutex<[Bool]>([])
        }
        let (harness, _, _) = try await Self.seeded()
        let calls = Calls()
        var planner = Planner()
        planner.searchIterations = 150
        planner.searchTimeLimit = nil
        try await Self.planning(harness) { [planner] input, previous in
            calls.inATask.withLock { $0.append(withUnsafeCurrentTask { $0 != nil }) }
            return planner.plan(input, previous: previous)
        }.replan(Self.eventID)
        #expect(calls.inATask.withLock { $0 } == [false], "planned once, outside any task")
        #expect(try await Self.latestPlan(harness)?.version == 1)
    }

    @Test func theSeedScenarioIsPlannedAndEveryDelegationToldOnce() async throws {
        let (harness, programme, accepted) = try await Self.seeded()
        #expect(try await harness.emitted().isEmpty, "the handler only records; planning tells")
        try await Self.planning(harness).replan(Self.eventID)
        let told = try await harness.emitted()
        let planned = told.of(ItineraryPlanned.self)
        #expect(planned.count == told.count && Set(planned.map(\.registrationID)) == Set(accepted.map(\.registrationID)))
        #expect(planned.count == accepted.count, "each delegation hears of its first plan once")
        #expect(told.allSatisfy { $0.correlationID?.hasPrefix("corr-") == true }, "each answer carries its registration's correlation id")

        let (version, plan) = try #require(try await Self.latestPlan(harness))
        #expect(version == 1)
        let input = PlanningInput(programme: programme, delegations: accepted.map(PlanningDelegation.init))
        #expect(PlanChecker().violations(of: plan, for: input).isEmpty)
        #expect(!plan.tours.isEmpty && !plan.meetings.isEmpty)
        #expect(planned.allSatisfy { $0.items.contains { $0.kind == .session } }, "everyone attends the networking session")
        let restricted = Set(programme.venues.filter { $0.restrictedAccess != nil }.map(\.id))
        let items = Dictionary(planned.map { ($0.registrationID, $0.items) }, uniquingKeysWith: { first, _ in first })
        for registration in accepted where registration.delegation.delegates.contains(where: { $0.identityDocument == nil }) {
            #expect(
                items[registration.registrationID]?.allSatisfy { !restricted.contains($0.venueID ?? "") } == true,
                "\(registration.reference)")
        }

        // Planning again with nothing changed tells nobody anything and saves no new version.
        #expect(try await Self.planning(harness).replan(Self.eventID) == 0)
        #expect(try await harness.emitted().isEmpty)
        #expect(try await Self.latestPlan(harness)?.version == 1)
    }

    /// However much later the plan is made, each delegation's itinerary goes out in the trace of
    /// the message that accepted it (the pipeline's span for it, here given directly).
    @Test func eachItineraryGoesOutInItsDelegationsTrace() async throws {
        let (programme, accepted) = try ItinerariesServiceTests.seed()
        let harness = try Self.harness()
        try await harness.send(programme)
        var traces: [String: TraceContext] = [:]
        for (index, registration) in accepted.enumerated() {
            let trace = try #require(TraceContext(traceparent: String(format: "00-%032x-%016x-01", index + 1, index + 1)))
            traces[registration.registrationID] = trace
            try await harness.send(registration, trace: trace)
        }
        try await Self.planning(harness).replan(Self.eventID)
        let told = try await harness.emitted()
        #expect(told.count == accepted.count)
        for message in told {
            #expect(message.trace == traces[try message.decode(ItineraryPlanned.self).registrationID])
        }
    }

    @Test func aCancellationTellsOnlyTheDelegationsItConcerns() async throws {
        let (harness, _, accepted) = try await Self.seeded()
        try await Self.planning(harness).replan(Self.eventID)
        let before = Dictionary(
            try await harness.emitted().of(ItineraryPlanned.self).map { ($0.registrationID, $0.items) }, uniquingKeysWith: { a, _ in a })
        let (_, plan) = try #require(try await Self.latestPlan(harness))
        // Someone on a tour and in a meeting cancels.
        let leaving = try #require(
            accepted.first { r in
                plan.tours.contains { $0.passengers.contains(r.registrationID) }
                    && plan.meetings.contains { $0.visitorID == r.registrationID }
            })
        try await harness.send(
            RegistrationCancelled(
                registrationID: leaving.registrationID, eventID: leaving.eventID, reference: leaving.reference, reason: "flight cancelled",
                delegation: leaving.delegation.withoutIdentityDocuments, cancelledAt: Date()))
        try await Self.planning(harness).replan(Self.eventID)
        let changed = try await harness.emitted().of(ItineraryChanged.self)

        let mine = try #require(changed.first { $0.registrationID == leaving.registrationID })
        #expect(mine.items.isEmpty && mine.changes.allSatisfy { $0.kind == .removed })
        #expect(Set(mine.changes.map(\.uid)) == Set(before[leaving.registrationID]?.map(\.uid) ?? []))
        // Its calendar withdrawals are kept for `cancellations.ics`.
        let told = try await harness.read { db in try ItineraryStore.told(eventID: Self.eventID, in: db)[leaving.registrationID] }
        #expect(told?.items == [] && Set(told?.withdrawn.map(\.uid) ?? []) == Set(mine.changes.map(\.uid)))
        // Everyone else who heard something really had a change, and most heard nothing.
        for message in changed where message.registrationID != leaving.registrationID {
            #expect(!message.changes.isEmpty && message.items != before[message.registrationID])
            // A changed item's iCalendar SEQUENCE goes up.
            #expect(
                message.changes.filter { $0.kind == .moved || $0.kind == .updated }.allSatisfy {
                    ($0.after?.sequence ?? 0) > ($0.before?.sequence ?? 0)
                })
        }
        #expect(changed.count < accepted.count / 2, "\(changed.count) delegations told of a change after one cancellation")
        #expect(try await Self.latestPlan(harness)?.version == 2)
    }

    /// A delegation the plan was made for changes while the planner runs (an amendment): the
    /// plan is not saved, and planning starts again from inputs that include the change.
    @Test func aPlanIsNotSavedIfADelegationItWasMadeForChangedMeanwhile() async throws {
        let (harness, _, accepted) = try await Self.seeded()
        let store = harness.store
        var amendment = try #require(accepted.first { $0.delegation.delegates.count >= 2 })
        amendment.revision += 1
        amendment.delegation.delegates.removeLast()
        let amended = amendment
        let sizes = Mutex<[Int]>([])
        let planning = Self.planning(harness) { input, previous in
            let first = sizes.withLock {
                $0.append(input.delegations.first { $0.id == amended.registrationID }?.size ?? 0)
                return $0.count == 1
            }
            if first { Self.record(amended, arrival: false, in: store) }
            return Self.quickPlan(input, previous)
        }
        try await planning.replan(Self.eventID)
        let size = amended.delegation.delegates.count
        #expect(sizes.withLock { $0 } == [size + 1, size], "planned again with the amendment")
        #expect(try await harness.emitted().of(ItineraryPlanned.self).count == accepted.count, "told once, from the second plan")
        #expect(try await Self.latestPlan(harness)?.version == 1, "the stale plan was never saved")
        let due = try await harness.read { db in try ItineraryStore.planning(now: .distantFuture, debounce: 1, maxWait: 10, in: db) }
        #expect(due.due.isEmpty && due.next == nil, "nothing left to plan")
    }

    /// A new registration accepted while the planner runs changes nothing for those the plan
    /// was made for: the plan is saved and they are told at once (under a steady stream of
    /// registrations nobody would be told until it stopped); the newcomer is planned in the next
    /// round, which moves nobody.
    @Test func aDelegationArrivingWhileThePlannerRunsWaitsForTheNextRoundAndTheOthersAreToldAtOnce() async throws {
        let (programme, accepted) = try ItinerariesServiceTests.seed()
        let harness = try Self.harness()
        try await harness.send(programme)
        for registration in accepted.dropLast() { try await harness.send(registration) }
        let late = try #require(accepted.last)
        let store = harness.store
        let sizes = Mutex<[Int]>([])
        let planning = Self.planning(harness) { input, previous in
            let first = sizes.withLock {
                $0.append(input.delegations.count)
                return $0.count == 1
            }
            if first { Self.record(late, arrival: true, in: store) }
            return Self.quickPlan(input, previous)
        }
        try await planning.replan(Self.eventID)
        #expect(sizes.withLock { $0 } == [accepted.count - 1], "planned once: the arrival does not undo it")
        #expect(try await harness.emitted().of(ItineraryPlanned.self).count == accepted.count - 1)
        #expect(try await Self.latestPlan(harness)?.version == 1)
        let due = try await harness.read { db in try ItineraryStore.planning(now: .distantFuture, debounce: 1, maxWait: 10, in: db) }
        #expect(due.due == [Self.eventID], "the newcomer waits for the next round")

        try await planning.replan(Self.eventID)
        let told = try await harness.emitted()
        #expect(told.of(ItineraryPlanned.self).map(\.registrationID) == [late.registrationID], "the newcomer told in the next round")
        #expect(told.of(ItineraryChanged.self).isEmpty, "and nobody else moved")
        #expect(try await Self.latestPlan(harness)?.version == 2)
        let settled = try await harness.read { db in try ItineraryStore.planning(now: .distantFuture, debounce: 1, maxWait: 10, in: db) }
        #expect(settled.due.isEmpty && settled.next == nil, "nothing left to plan")
    }

    /// What the handler writes for an acceptance (a new delegation's or an amendment), written
    /// while the planner runs.
    static func record(_ accepted: RegistrationAccepted, arrival: Bool, in store: ServiceStore) {
        try? store.database.write { db in
            try ItineraryStore.save(
                .init(
                    planning: PlanningDelegation(accepted), eventID: accepted.eventID, revision: accepted.revision, active: true,
                    correlationID: nil),
                sealed: nil, in: db)
            try ItineraryStore.markChanged(accepted.eventID, arrival: arrival, in: db)
        }
    }

    /// A short search: these tests are about what is saved and told, not the plan's value.
    static func quickPlan(_ input: PlanningInput, _ previous: Plan?) -> Plan {
        var planner = Planner()
        (planner.searchIterations, planner.searchTimeLimit) = (150, nil)
        return planner.plan(input, previous: previous)
    }

    @Test func planningIsDueAfterAQuietSpellOrAtTheLatestAfterTheLongestWait() async throws {
        let harness = try Self.harness()
        let start = Samples.danang(day: 8, 10)
        let (debounce, maxWait) = (5.0, 20.0)
        func planning(at offset: Double) async throws -> (due: [String], next: Date?, triggers: [String: PlanTrigger]) {
            try await harness.read { db in
                try ItineraryStore.planning(now: start.addingTimeInterval(offset), debounce: debounce, maxWait: maxWait, in: db)
            }
        }
        func change(at offset: Double) async throws {
            try await harness.write { db in try ItineraryStore.markChanged(Self.eventID, at: start.addingTimeInterval(offset), in: db) }
        }
        let idle = try await planning(at: 0)
        #expect(idle.due.isEmpty && idle.next == nil, "nothing changed, nothing waits")
        try await change(at: 0)
        #expect(try await planning(at: 4.9).due.isEmpty)
        #expect(try await planning(at: 4.9).next == start.addingTimeInterval(5))
        #expect(try await planning(at: 5).due == [Self.eventID])
        #expect(try await planning(at: 5).triggers == [Self.eventID: .quiet])
        // A change every four seconds keeps postponing it, until twenty seconds after the first.
        for offset in stride(from: 4.0, through: 24, by: 4) { try await change(at: offset) }
        #expect(try await planning(at: 19.9).next == start.addingTimeInterval(20))
        #expect(try await planning(at: 20).due == [Self.eventID])
        #expect(try await planning(at: 20).triggers == [Self.eventID: .limit])
        // Planned at the generation it read: later changes still wait, with a fresh window.
        let generation = try await harness.read { db in try ItineraryStore.generation(Self.eventID, in: db) }
        try await harness.write { db in try ItineraryStore.markPlanned(Self.eventID, generation: generation - 1, in: db) }
        #expect(try await planning(at: 20).due == [Self.eventID])
        try await harness.write { db in try ItineraryStore.markPlanned(Self.eventID, generation: generation, in: db) }
        #expect(try await planning(at: 1000).due.isEmpty)
        try await change(at: 1000)
        #expect(try await planning(at: 1004).next == start.addingTimeInterval(1005))
    }

    /// An import: each acceptance carries its place in the batch. The event waits for quiet
    /// while the batch comes in and is due at once when its last is in; a change after that
    /// waits for quiet again, and so does a batch whose last is not in or a place outside its
    /// batch.
    @Test func theLastOfABatchMakesTheEventDueAtOnce() async throws {
        let (programme, accepted) = try ItinerariesServiceTests.seed()
        let harness = try Self.harness()
        try await harness.send(programme)
        func due() async throws -> [String] {
            try await harness.read { db in try ItineraryStore.planning(now: Date(), debounce: 60, maxWait: 600, in: db).due }
        }
        func trigger() async throws -> PlanTrigger? {
            try await harness.read { db in try ItineraryStore.planning(now: Date(), debounce: 60, maxWait: 600, in: db) }.triggers[
                Self.eventID]
        }
        func send(_ registration: RegistrationAccepted, _ batch: BatchPosition?) async throws {
            var message = registration
            message.batch = batch
            try await harness.send(message)
        }
        let imported = accepted.prefix(5)
        for (index, registration) in imported.enumerated() {
            #expect(try await due().isEmpty, "waits for quiet before \(index) of \(imported.count)")
            try await send(registration, BatchPosition(id: "import-1", index: index, count: imported.count))
        }
        #expect(try await due() == [Self.eventID])
        #expect(try await trigger() == .batch)
        try await send(accepted[5], nil)
        #expect(try await due().isEmpty, "a registration on its own after the batch: quiet again")
        try await send(accepted[6], BatchPosition(id: "import-2", index: 0, count: 2))
        #expect(try await due().isEmpty, "the batch's last is not in")
        try await send(accepted[7], BatchPosition(id: "import-3", index: 3, count: 3))
        #expect(try await due().isEmpty, "a place outside its batch ends nothing")
        try await send(accepted[8], BatchPosition(id: "import-2", index: 1, count: 2))
        #expect(try await due() == [Self.eventID])
    }

    @Test func olderVersionsAndUnknownCancellationsChangeNothing() async throws {
        let (harness, programme, accepted) = try await Self.seeded()
        let generation = { try await harness.read { db in try ItineraryStore.generation(Self.eventID, in: db) } }
        let start = try await generation()
        var older = programme
        older.version = programme.version - 1
        try await harness.send(older)
        let first = try #require(accepted.first)
        var amended = first
        amended.revision = 2
        try await harness.send(amended)
        #expect(try await generation() == start + 1, "a newer revision is a change")
        try await harness.send(first)  // revision 1 again, under another message id
        try await harness.send(
            RegistrationCancelled(
                registrationID: "reg-nobody", eventID: Self.eventID, reference: "nobody", reason: nil,
                delegation: first.delegation.withoutIdentityDocuments,
                cancelledAt: Date()))
        #expect(try await generation() == start + 1)
        let stored = try await harness.read { db in try ItineraryStore.delegation(first.registrationID, in: db) }
        #expect(stored?.revision == 2)
    }

    /// Registrations cancels a registration soon after accepting it; the acceptance fails here
    /// for a moment and waits for its retry while the cancellation overtakes it. The acceptance
    /// that comes last plans nobody; a registration made again after the cancellation (the next
    /// revision, accepted later) is planned as usual.
    @Test func aCancellationThatOvertakesItsAcceptanceStandsUntilTheRegistrationIsMadeAgain() async throws {
        let (programme, accepted) = try ItinerariesServiceTests.seed()
        let harness = try Self.harness()
        try await harness.send(programme)
        let late = try #require(accepted.last)
        for registration in accepted.dropLast() { try await harness.send(registration) }
        try await harness.send(
            RegistrationCancelled(
                registrationID: late.registrationID, eventID: late.eventID, reference: late.reference, reason: "plans changed",
                delegation: late.delegation.withoutIdentityDocuments, cancelledAt: late.acceptedAt.addingTimeInterval(60)))
        try await harness.send(late, attempt: 2)
        #expect(try await harness.read { db in try ItineraryStore.delegation(late.registrationID, in: db) }?.active != true)

        try await Self.planning(harness).replan(Self.eventID)
        let planned = try await harness.emitted().of(ItineraryPlanned.self).map(\.registrationID)
        #expect(Set(planned) == Set(accepted.dropLast().map(\.registrationID)), "everyone else is planned, the cancelled one not")
        let (_, plan) = try #require(try await Self.latestPlan(harness))
        #expect(!plan.tours.contains { $0.passengers.contains(late.registrationID) })
        #expect(!plan.meetings.contains { $0.visitorID == late.registrationID || $0.hostID == late.registrationID })

        var again = late
        again.revision += 1
        again.acceptedAt = late.acceptedAt.addingTimeInterval(120)
        try await harness.send(again)
        // The other way round: the first cancellation, retried, arrives after the registration
        // made again; it is older than that acceptance and ends nothing.
        try await harness.send(
            RegistrationCancelled(
                registrationID: late.registrationID, eventID: late.eventID, reference: late.reference, reason: "plans changed",
                delegation: late.delegation.withoutIdentityDocuments, cancelledAt: late.acceptedAt.addingTimeInterval(60)),
            attempt: 2)
        #expect(try await harness.read { db in try ItineraryStore.delegation(late.registrationID, in: db) }?.active == true)
        try await Self.planning(harness).replan(Self.eventID)
        #expect(try await harness.emitted().of(ItineraryPlanned.self).map(\.registrationID) == [late.registrationID])
    }

    @Test func anAbsenceIsKeptOnceSurvivesAnAmendmentAndLeadsToARePlanCountingThemOut() async throws {
        let (harness, _, accepted) = try await Self.seeded()
        try await Self.planning(harness).replan(Self.eventID)
        let generation = { try await harness.read { db in try ItineraryStore.generation(Self.eventID, in: db) } }
        let start = try await generation()
        let plan = try #require(try await Self.latestPlan(harness)?.plan)
        let tour = try #require(
            plan.tours.first { tour in
                tour.passengers.contains { id in (accepted.first { $0.registrationID == id }?.delegation.delegates.count ?? 0) >= 2 }
            })
        let rider = try #require(accepted.first { tour.passengers.contains($0.registrationID) && $0.delegation.delegates.count >= 2 })
        func declined(_ persons: [Int], id: String) -> AttendanceDeclined {
            AttendanceDeclined(
                declineID: id, eventID: Self.eventID, registrationID: rider.registrationID, persons: persons, day: tour.day, source: .lead,
                declinedAt: Date())
        }
        try await harness.send(declined([2], id: "decline-1"))
        #expect(try await generation() == start + 1)
        try await harness.send(declined([2], id: "decline-1"), messageID: "a replayed copy")
        try await harness.send(declined([2, 99], id: "decline-2"))
        #expect(try await generation() == start + 1, "the same person again, and no such person: nothing changes")
        var amended = rider
        amended.revision += 1
        try await harness.send(amended)
        let stored = try await harness.read { db in try ItineraryStore.delegation(rider.registrationID, in: db) }
        #expect(stored?.planning.absent == [tour.day: [2]], "an amendment keeps who will not come")
        // The re-plan counts them out; everyone keeps their tour.
        try await Self.planning(harness).replan(Self.eventID)
        let after = try #require(try await Self.latestPlan(harness)?.plan)
        #expect(after.tour(of: rider.registrationID, on: tour.day)?.stops == tour.stops)
        let input = try await harness.read { db in
            PlanningInput(
                programme: try #require(try ItineraryStore.programme(Self.eventID, in: db)),
                delegations: try ItineraryStore.activeDelegations(eventID: Self.eventID, in: db).map(\.planning))
        }
        #expect(input.delegations.first { $0.id == rider.registrationID }?.on(tour.day).size == rider.delegation.delegates.count - 1)
        #expect(PlanChecker().violations(of: after, for: input).isEmpty)
    }
}
