import Foundation
import GRDB
import ItineraryPlanner
import Logging
import Messages
import ServiceLifecycle
import ServiceRuntime

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
/// event's inputs; its plan, the itineraries and the outgoing messages are then written in one
/// transaction, but only if the inputs are still those it planned from (else it plans again),
/// so a large plan never holds up the pipeline.
public final class PlanningService: Service {
    private let context: ServiceHost.Context
    private let debounce: Double
    private let maxWait: Double
    private let plan: @Sendable (PlanningInput, Plan?) -> Plan

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
                let (due, upcoming) = try await context.store.database.read { db in
                    try ItineraryStore.planning(now: now, debounce: self.debounce, maxWait: self.maxWait, in: db)
                }
                for eventID in due { try await replan(eventID) }
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
            _ = try? await cancelWhenGracefulShutdown { await changes.wait(after: seen, timeout: .seconds(wait)) }
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
        var programme: ProgrammePublished
        var delegations: [DelegationRecord]
        var previous: (version: Int, plan: Plan)?
    }

    /// Plans `eventID` now (again while its inputs change under it, up to five times; a later
    /// round takes it up after that); returns the number of messages emitted.
    @discardableResult
    public func replan(_ eventID: String) async throws -> Int {
        for _ in 1...5 {
            let started = ContinuousClock.now
            let snapshot = try await context.store.database.read { db -> Snapshot? in
                guard let programme = try ItineraryStore.programme(eventID, in: db) else { return nil }
                return Snapshot(
                    generation: try ItineraryStore.generation(eventID, in: db), programme: programme,
                    delegations: try ItineraryStore.activeDelegations(eventID: eventID, in: db),
                    previous: try ItineraryStore.latestPlan(eventID: eventID, in: db))
            }
            guard let snapshot else { return 0 }  // nothing to plan until its programme comes
            let input = PlanningInput(programme: snapshot.programme, delegations: snapshot.delegations.map(\.planning))
            let plan = self.plan(input, snapshot.previous?.plan)
            let service = context.configuration.kind
            let result = try await context.store.database.write { db -> (count: Int, version: Int)? in
                guard try ItineraryStore.generation(eventID, in: db) == snapshot.generation else { return nil }
                let outbound = try self.tell(snapshot, plan, in: db)
                let version = (snapshot.previous?.version ?? 0) + 1
                try ItineraryStore.markPlanned(eventID, generation: snapshot.generation, in: db)
                guard !outbound.isEmpty || snapshot.previous?.plan != plan else { return (0, snapshot.previous?.version ?? 0) }
                try ItineraryStore.savePlan(plan, version: version, in: db)
                try Outbox.append(outbound, causedBy: "plan:\(eventID):\(version)", service: service, in: db)
                return (outbound.count, version)
            }
            guard let result else {
                context.logger.debug("inputs changed while planning; planning again", metadata: ["event": "\(eventID)"])
                continue
            }
            if result.count > 0 { context.outbox.ring() }
            context.logger.info(
                "planned",
                metadata: [
                    "event": "\(eventID)", "plan.version": "\(result.version)", "delegations": "\(snapshot.delegations.count)",
                    "messages": "\(result.count)", "duration_ms": "\(milliseconds(ContinuousClock.now - started))",
                ])
            return result.count
        }
        return 0
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
                        correlationID: delegation.correlationID))
                try ItineraryStore.saveTold(Self.told(version, current, changes, before), in: db)
            } else {
                outbound.append(
                    try OutboundMessage(
                        ItineraryPlanned(
                            eventID: eventID, registrationID: id, planVersion: version, timeZone: timeZone, items: items, unmet: unmet,
                            plannedAt: now),
                        correlationID: delegation.correlationID))
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
