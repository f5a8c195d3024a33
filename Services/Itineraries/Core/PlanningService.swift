import Foundation
import GRDB
import ItineraryPlanner
import Logging
import Messages
import ServiceLifecycle
import ServiceRuntime
import Tracing

func milliseconds(_ duration: Duration) -> Int {
    Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
}

/// Re-plans events whose inputs changed, once the changes settle, and tells each delegation
/// what concerns it: `itinerary.planned` the first time, `itinerary.changed` with only its
/// changes afterwards (nothing if nothing changed for it).
///
/// It sleeps until the pipeline applies a message (`ServiceHost.Context.changes`) or the next
/// event is due (`debounce` of quiet after its last change, at the latest `maxWait` after the
/// first), never polling. The planner runs outside any transaction, on a snapshot of the
/// event's inputs and on a thread of its own (`WorkerThread`: a plan is seconds of CPU, which on
/// Swift's cooperative threads would hold up the pipeline, the relay and HTTP); its plan, the
/// itineraries and the outgoing messages are then written in one transaction, but only if
/// nothing but new delegations came since the snapshot (else it plans again), so a large plan
/// never holds up the pipeline, and a steady stream of registrations does not keep everyone
/// waiting: the newcomers are planned in the next round.
///
/// Each round is a span (`plan`) in the trace of the change it follows; each delegation's
/// itinerary is published in the trace of the latest message about that delegation.
public final class PlanningService: Service {
    private let context: ServiceHost.Context
    private let debounce: Double
    private let maxWait: Double
    private let plan: @Sendable (PlanningInput, Plan?) -> Plan
    /// Where plans are made: seconds of CPU each, kept off the threads the pipeline runs on.
    private let planner = WorkerThread(label: "itineraries.planner")

    public convenience init(context: ServiceHost.Context, debounce: Double, maxWait: Double, planner: Planner = Planner()) {
        self.init(context: context, debounce: debounce, maxWait: maxWait) { planner.plan($0, previous: $1) }
    }

    /// `plan` makes a plan from the inputs and the previous plan (tests watch it).
    init(context: ServiceHost.Context, debounce: Double, maxWait: Double, plan: @escaping @Sendable (PlanningInput, Plan?) -> Plan) {
        self.context = context
        self.debounce = debounce
        self.maxWait = maxWait
        self.plan = plan
    }

    public func run() async throws {
        var failures = 0
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let seen = context.changes.generation
            var next: Date?
            do {
                let now = Date()
                let (due, upcoming, triggers) = try await context.store.database.read { db in
                    try ItineraryStore.planning(now: now, debounce: self.debounce, maxWait: self.maxWait, in: db)
                }
                for eventID in due {
                    countRun(triggers[eventID] ?? .quiet)
                    try await replan(eventID)
                }
                failures = 0
                if !due.isEmpty { continue }
                next = upcoming
            } catch {
                failures += 1
                next = Date().addingTimeInterval(min(30, 0.5 * Double(1 << min(failures, 6))))
                context.logger.error(
                    "planning failed; will try again",
                    metadata: ["error": "\(error)", "retry_at": "\(MessageCoding.format(next ?? Date()))"])
            }
            let wait = min(3600, max(0.01, next?.timeIntervalSinceNow ?? 3600))
            let changes = context.changes
            _ = await cancelWhenGracefulShutdown { await changes.wait(after: seen, timeout: .seconds(wait)) }
        }
    }

    /// The new record of what a delegation was told: withdrawn items accumulate (latest
    /// sequence), and an item that comes back is no longer withdrawn.
    static func told(_ version: Int, _ items: [ItineraryItem], _ changes: [ItineraryChange], _ before: ToldRecord) -> ToldRecord {
        let current = Set(items.map(\.uid))
        let removed = changes.filter { $0.kind == .removed }.compactMap(\.before)
        let removedIDs = Set(removed.map(\.uid))
        let withdrawn = before.withdrawn.filter { !current.contains($0.uid) && !removedIDs.contains($0.uid) } + removed
        return ToldRecord(
            eventID: before.eventID, registrationID: before.registrationID, version: version, items: items,
            withdrawn: withdrawn.sorted { $0.uid < $1.uid })
    }

    /// What planning reads of an event before it plans.
    struct Snapshot: Sendable {
        var generation: Int
        var plannedGeneration: Int
        var programme: ProgrammePublished
        var delegations: [DelegationRecord]
        var previous: (version: Int, plan: Plan)?
        var overrides: [OverrideRecord]
        var requests: [PlanRequestRecord]
        /// The trace of the latest change.
        var trace: TraceContext?

        func input(_ overrides: [OverrideRecord]) -> PlanningInput {
            PlanningInput(programme: programme, delegations: delegations.map(\.planning), overrides: overrides.map(\.body))
        }
    }

    /// A plan made from a snapshot, with what becomes of the overrides waiting for it.
    struct Decision: Sendable {
        var plan: Plan
        /// The plan's visit value (`PlanChecker`).
        var value: Double = 0
        /// Overrides now kept, with their cost; refused ones, with the reason.
        var applied: [(override: OverrideRecord, cost: Double)]
        var refused: [(override: OverrideRecord, reason: String)]
    }

    /// An answer to a re-optimisation request, worked out outside the transaction.
    struct Answer: Sendable {
        var request: PlanRequestRecord
        var outcome: PlanReoptimised.Outcome
        var reason: String?
        var plan: Plan?
        var valueBefore: Double
        var valueAfter: Double
        var moved: [String]
    }

    /// Plans `eventID` now if its inputs changed, and answers its re-optimisation requests
    /// (again while its inputs change under it, up to five times; a later round takes it up
    /// after that); returns the number of messages emitted.
    @discardableResult
    public func replan(_ eventID: String) async throws -> Int {
        for _ in 1...5 {
            let started = ContinuousClock.now
            let snapshot = try await context.store.database.read { db -> Snapshot? in
                guard let programme = try ItineraryStore.programme(eventID, in: db) else { return nil }
                return Snapshot(
                    generation: try ItineraryStore.generation(eventID, in: db),
                    plannedGeneration: try ItineraryStore.plannedGeneration(eventID, in: db), programme: programme,
                    delegations: try ItineraryStore.activeDelegations(eventID: eventID, in: db),
                    previous: try ItineraryStore.latestPlan(eventID: eventID, in: db),
                    overrides: try ItineraryStore.overrides(eventID: eventID, in: db),
                    requests: try ItineraryStore.pendingRequests(eventID: eventID, in: db),
                    trace: try ItineraryStore.trace(eventID, in: db))
            }
            guard let snapshot else {
                // Nothing to plan until its programme comes; requests cannot be answered yet.
                return try await refuseRequests(eventID, reason: "the event has no programme yet")
            }
            let tracer = context.tracer
            let span = tracer.startSpan("plan", context: snapshot.trace?.serviceContext(tracer: tracer) ?? .topLevel)
            defer { span.end() }
            span.attributes["delegation.event"] = eventID
            span.attributes["delegation.delegations"] = snapshot.delegations.count
            let (decision, answers) = await planner.run { [self] in
                let decision = snapshot.generation > snapshot.plannedGeneration || snapshot.previous == nil ? decide(snapshot) : nil
                let current = decision?.plan ?? snapshot.previous?.plan
                return (decision, snapshot.requests.map { answer($0, snapshot, current: current) })
            }
            let service = context.configuration.kind
            let result = try await context.store.database.write { db -> (count: Int, version: Int)? in
                guard try ItineraryStore.stillCurrent(eventID, generation: snapshot.generation, in: db) else { return nil }
                var count = 0
                var version = snapshot.previous?.version ?? 0
                var base = snapshot
                if let decision {
                    let (emitted, saved) = try self.commit(decision, snapshot, service: service, in: db)
                    count += emitted
                    if saved != version { base.previous = (saved, decision.plan) }
                    version = saved
                }
                for answer in answers {
                    let (emitted, saved) = try self.commit(answer, base, in: db)
                    try Outbox.append(emitted, causedBy: "reoptimise:\(eventID):\(answer.request.requestID)", service: service, in: db)
                    count += emitted.count
                    if let saved {
                        base.previous = saved
                        version = saved.version
                    }
                }
                return (count, version)
            }
            guard let result else {
                span.attributes["delegation.outcome"] = "inputs changed; planning again"
                context.logger.debug("inputs changed while planning; planning again", metadata: ["event": "\(eventID)"])
                continue
            }
            span.attributes["delegation.plan.version"] = result.version
            span.attributes["delegation.messages"] = result.count
            if let decision { span.attributes["delegation.plan.value"] = decision.value }
            if result.count > 0 { context.outbox.ring() }
            if let decision { recordMetrics(eventID, duration: ContinuousClock.now - started, value: decision.value) }
            context.logger.info(
                "planned",
                metadata: [
                    "event": "\(eventID)", "plan.version": "\(result.version)", "delegations": "\(snapshot.delegations.count)",
                    "messages": "\(result.count)", "requests": "\(answers.count)",
                    "duration_ms": "\(milliseconds(ContinuousClock.now - started))",
                ])
            return result.count
        }
        return 0
    }

    /// `plan_runs_total{service,trigger}`: planning runs by what made the event due (`batch`,
    /// `quiet`, `limit`: the longest wait ran out while changes kept coming, `request`).
    private func countRun(_ trigger: PlanTrigger) {
        context.metrics.registry.makeCounter(
            descriptor: .metric("plan_runs_total", help: "Planning runs by what made the event due (batch, quiet, limit, request)"),
            labels: [("service", context.metrics.service), ("trigger", trigger.rawValue)]
        ).increment()
    }

    /// `plan_duration_seconds{service}` (reading, planning and committing one event) and
    /// `plan_value{service,event}` (the visit value of the plan in force) for `/metrics`.
    private func recordMetrics(_ eventID: String, duration: Duration, value: Double) {
        let service = context.metrics.service
        context.metrics.registry.makeDurationHistogram(
            descriptor: .metric("plan_duration_seconds", help: "Re-planning one event: reading, planning, committing"),
            labels: [("service", service)],
            buckets: [
                .milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2),
                .seconds(5),
            ]
        ).recordNanoseconds(duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
        context.metrics.registry.makeGauge(
            descriptor: .metric("plan_value", help: "Visit value of the plan in force"), labels: [("service", service), ("event", eventID)]
        ).set(value)
    }

    /// Plans with the overrides in force and those waiting; a waiting one the plan cannot keep
    /// (contradictory, or unplannable) is refused and the plan made again without it. Each one
    /// applied is priced: the visit value of the plan without it, less the plan's.
    func decide(_ snapshot: Snapshot) -> Decision {
        var overrides = snapshot.overrides
        // A lock takes the tour as it is in the plan in force when it arrives.
        for index in overrides.indices where overrides[index].status == .pending && overrides[index].body.kind == .lockTour {
            let lock = overrides[index].body
            overrides[index].body.tour = snapshot.previous?.plan.tours.first { $0.busID == lock.busID && $0.day == lock.day }
        }
        let previous = snapshot.previous?.plan
        var refused: [(override: OverrideRecord, reason: String)] = []
        var plan = self.plan(snapshot.input(overrides), previous)
        while true {
            let unmet = overrides.filter { $0.status == .pending && plan.unmetOverrides[$0.overrideID] != nil }
            guard !unmet.isEmpty else { break }
            refused += unmet.map { ($0, plan.unmetOverrides[$0.overrideID] ?? "the plan cannot keep it") }
            overrides.removeAll { record in unmet.contains { $0.overrideID == record.overrideID } }
            plan = self.plan(snapshot.input(overrides), previous)
        }
        let checker = PlanChecker()
        let value = checker.score(of: plan, for: snapshot.input(overrides)).visitValue
        var applied: [(override: OverrideRecord, cost: Double)] = []
        for record in overrides where record.status == .pending {
            let others = overrides.filter { $0.overrideID != record.overrideID }
            let without = self.plan(snapshot.input(others), previous)
            applied.append((record, max(0, checker.score(of: without, for: snapshot.input(others)).visitValue - value)))
        }
        for (record, cost) in applied { plan.overrideCosts[record.overrideID] = cost }
        for record in overrides where record.status == .active { plan.overrideCosts[record.overrideID] = record.cost ?? 0 }
        for record in overrides where record.status == .active && plan.unmetOverrides[record.overrideID] != nil {
            context.logger.warning(
                "an override in force is no longer kept",
                metadata: [
                    "event": "\(snapshot.programme.eventID)", "override": "\(record.overrideID)",
                    "reason": "\(plan.unmetOverrides[record.overrideID] ?? "")",
                ])
        }
        return Decision(plan: plan, value: value, applied: applied, refused: refused)
    }

    /// Inside the transaction: saves the plan (if anything changed) and the overrides' new
    /// states, queues what delegations and organisers are told, and returns how many messages
    /// and the plan version now in force.
    private func commit(_ decision: Decision, _ snapshot: Snapshot, service: String, in db: Database) throws -> (Int, Int) {
        let eventID = snapshot.programme.eventID
        let plan = decision.plan
        let told = try tell(snapshot, plan, in: db)
        try ItineraryStore.markPlanned(eventID, generation: snapshot.generation, in: db)
        var version = snapshot.previous?.version ?? 0
        if !told.isEmpty || snapshot.previous?.plan != plan {
            version += 1
            try ItineraryStore.savePlan(plan, version: version, in: db)
        }
        try Outbox.append(told, causedBy: "plan:\(eventID):\(version)", service: service, in: db)
        // Each decision has a cause of its own: the plan version may be unchanged by it.
        var outbound: [(String, OutboundMessage)] = []
        let now = Date()
        for (record, cost) in decision.applied {
            var active = record
            active.status = .active
            active.cost = cost
            try ItineraryStore.save(active, in: db)
            outbound.append(
                (
                    record.overrideID,
                    try OutboundMessage(
                        PlanOverrideDecided(
                            eventID: eventID, overrideID: record.overrideID, outcome: .applied, cost: cost, planVersion: version,
                            decidedAt: now),
                        correlationID: record.correlationID)
                ))
        }
        for (record, reason) in decision.refused {
            try ItineraryStore.deleteOverride(eventID: eventID, id: record.overrideID, in: db)
            outbound.append(
                (
                    record.overrideID,
                    try OutboundMessage(
                        PlanOverrideDecided(
                            eventID: eventID, overrideID: record.overrideID, outcome: .refused, reason: reason, decidedAt: now),
                        correlationID: record.correlationID)
                ))
        }
        for (overrideID, message) in outbound {
            try Outbox.append(
                [message], causedBy: "override:\(eventID):\(overrideID)@\(snapshot.generation)", service: service, in: db)
        }
        return (told.count + outbound.count, version)
    }

    /// Works out a preview (the best plan allowing moves, with the overrides in force) or
    /// checks that a preview to apply still fits the event.
    func answer(_ request: PlanRequestRecord, _ snapshot: Snapshot, current: Plan?) -> Answer {
        let input = snapshot.input(snapshot.overrides.filter { $0.status == .active })
        let checker = PlanChecker()
        let before = current.map { checker.score(of: $0, for: input).visitValue } ?? 0
        if request.applyPreview != nil {
            // Whether the preview still fits is checked inside the transaction.
            return Answer(request: request, outcome: .applied, plan: nil, valueBefore: before, valueAfter: before, moved: [])
        }
        let fresh = self.plan(input, nil)
        return Answer(
            request: request, outcome: .previewed, plan: fresh, valueBefore: before,
            valueAfter: checker.score(of: fresh, for: input).visitValue, moved: Self.moved(from: current, to: fresh))
    }

    /// Registrations whose tours differ between two plans (bus, stops or times; a tour gained or lost).
    public static func moved(from before: Plan?, to after: Plan) -> [String] {
        let days = Set((before?.tours ?? []).map(\.day) + after.tours.map(\.day)).sorted()
        let ids = Set((before?.tours ?? []).flatMap(\.passengers) + after.tours.flatMap(\.passengers))
        return ids.filter { id in
            days.contains { day in
                let old = before?.tour(of: id, on: day)
                let new = after.tour(of: id, on: day)
                return old?.busID != new?.busID || old?.stops != new?.stops
            }
        }.sorted()
    }

    /// Inside the transaction: records the answer and returns its messages, and the new plan
    /// (with its version) when a preview was applied.
    private func commit(_ answer: Answer, _ snapshot: Snapshot, in db: Database) throws -> ([OutboundMessage], (version: Int, plan: Plan)?)
    {
        let eventID = snapshot.programme.eventID
        var request = answer.request
        var outbound: [OutboundMessage] = []
        var saved: (version: Int, plan: Plan)?
        var answer = answer
        if let previewID = request.applyPreview {
            let preview = try ItineraryStore.request(eventID: eventID, id: previewID, in: db)
            let version = snapshot.previous?.version ?? 0
            if let preview, preview.status == .previewed, let plan = preview.body, preview.generation == snapshot.generation,
                preview.basedOnVersion == version
            {
                outbound += try tell(snapshot, plan, in: db)
                saved = (version + 1, plan)
                try ItineraryStore.savePlan(plan, version: version + 1, in: db)
                var used = preview
                used.status = .done
                try ItineraryStore.save(used, in: db)
                let input = snapshot.input(snapshot.overrides.filter { $0.status == .active })
                answer.valueAfter = PlanChecker().score(of: plan, for: input).visitValue
                answer.moved = Self.moved(from: snapshot.previous?.plan, to: plan)
            } else {
                answer.outcome = .refused
                answer.reason =
                    preview?.status == .previewed
                    ? "the event changed since the preview was made (plan version \(version), inputs \(snapshot.generation)); preview again"
                    : "no preview '\(previewID)' to apply"
            }
            request.status = .done
        } else {
            request.status = .previewed
            request.generation = snapshot.generation
            request.basedOnVersion = snapshot.previous?.version
            request.body = answer.plan
        }
        try ItineraryStore.save(request, in: db)
        outbound.append(
            try OutboundMessage(
                PlanReoptimised(
                    eventID: eventID, requestID: request.requestID, outcome: answer.outcome, reason: answer.reason,
                    valueBefore: answer.valueBefore, valueAfter: answer.outcome == .refused ? answer.valueBefore : answer.valueAfter,
                    moved: answer.outcome == .refused ? [] : answer.moved, basedOnVersion: snapshot.previous?.version,
                    planVersion: saved?.version, decidedAt: Date()),
                correlationID: request.correlationID))
        return (outbound, saved)
    }

    /// Answers every waiting request of an event that cannot be planned, with the reason.
    private func refuseRequests(_ eventID: String, reason: String) async throws -> Int {
        let service = context.configuration.kind
        let count = try await context.store.database.write { db -> Int in
            var count = 0
            for var request in try ItineraryStore.pendingRequests(eventID: eventID, in: db) {
                request.status = .done
                try ItineraryStore.save(request, in: db)
                try Outbox.append(
                    [
                        try OutboundMessage(
                            PlanReoptimised(
                                eventID: eventID, requestID: request.requestID, outcome: .refused, reason: reason, valueBefore: 0,
                                valueAfter: 0, moved: [], decidedAt: Date()),
                            correlationID: request.correlationID)
                    ],
                    causedBy: "reoptimise:\(eventID):\(request.requestID)",
                    service: service, in: db)
                count += 1
            }
            return count
        }
        if count > 0 { context.outbox.ring() }
        return count
    }

    /// Inside the transaction: what each delegation is told of `plan` (and records it), as
    /// outgoing messages.
    private func tell(_ snapshot: Snapshot, _ plan: Plan, in db: Database) throws -> [OutboundMessage] {
        let eventID = snapshot.programme.eventID
        let version = (snapshot.previous?.version ?? 0) + 1
        let timeZone = snapshot.programme.timeZone
        let builder = ItineraryBuilder(
            programme: snapshot.programme,
            names: Dictionary(snapshot.delegations.map { ($0.planning.id, $0.planning.name) }, uniquingKeysWith: { first, _ in first }))
        let told = try ItineraryStore.told(eventID: eventID, in: db)
        let now = Date()
        var outbound: [OutboundMessage] = []
        for delegation in snapshot.delegations {
            let id = delegation.planning.id
            let items = builder.items(for: id, in: plan)
            let unmet = plan.unmet[id] ?? []
            if let before = told[id] {
                let (current, changes) = ItineraryBuilder.changes(from: before.items, to: items)
                guard !changes.isEmpty else { continue }
                outbound.append(
                    try OutboundMessage(
                        ItineraryChanged(
                            eventID: eventID, registrationID: id, planVersion: version, previousVersion: before.version, timeZone: timeZone,
                            changes: changes, items: current, unmet: unmet, changedAt: now),
                        correlationID: delegation.correlationID, trace: delegation.trace))
                try ItineraryStore.saveTold(Self.told(version, current, changes, before), in: db)
            } else {
                outbound.append(
                    try OutboundMessage(
                        ItineraryPlanned(
                            eventID: eventID, registrationID: id, planVersion: version, timeZone: timeZone, items: items, unmet: unmet,
                            plannedAt: now),
                        correlationID: delegation.correlationID, trace: delegation.trace))
                try ItineraryStore.saveTold(
                    ToldRecord(eventID: eventID, registrationID: id, version: version, items: items, withdrawn: []), in: db)
            }
        }
        // Delegations no longer taking part: every item is withdrawn.
        let active = Set(snapshot.delegations.map(\.planning.id))
        for (id, before) in told.sorted(by: { $0.key < $1.key }) where !active.contains(id) && !before.items.isEmpty {
            let (_, changes) = ItineraryBuilder.changes(from: before.items, to: [])
            let correlation = try ItineraryStore.delegation(id, in: db)?.correlationID
            outbound.append(
                try OutboundMessage(
                    ItineraryChanged(
                        eventID: eventID, registrationID: id, planVersion: version, previousVersion: before.version, timeZone: timeZone,
                        changes: changes,
                        items: [], unmet: [], changedAt: now),
                    correlationID: correlation))
            try ItineraryStore.saveTold(Self.told(version, [], changes, before), in: db)
        }
        return outbound
    }
}
