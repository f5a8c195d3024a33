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
/// changes afterwards (nothing if nothing changed for it). Plan, itineraries and outgoing
/// messages are written in one transaction; the outbox relay publishes them.
public final class PlanningService: Service {
    private let context: ServiceHost.Context
    private let debounce: Double
    private let maxWait: Double
    private let planner: Planner

    public init(context: ServiceHost.Context, debounce: Double, maxWait: Double, planner: Planner = Planner()) {
        self.context = context
        self.debounce = debounce
        self.maxWait = maxWait
        self.planner = planner
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let due = try await context.store.database.read { db in try ItineraryStore.due(debounce: self.debounce, maxWait: self.maxWait, in: db) }
                for eventID in due { try await replan(eventID) }
            } catch {
                context.logger.error("planning failed; will try again", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    /// The new record of what a delegation was told: withdrawn items accumulate (latest
    /// sequence), and an item that comes back is no longer withdrawn.
    static func told(_ version: Int, _ items: [ItineraryItem], _ changes: [ItineraryChange], _ before: ItineraryStore.Told) -> ItineraryStore.Told {
        let current = Set(items.map(\.uid))
        let removed = changes.filter { $0.kind == .removed }.compactMap(\.before)
        let removedIDs = Set(removed.map(\.uid))
        let withdrawn = before.withdrawn.filter { !current.contains($0.uid) && !removedIDs.contains($0.uid) } + removed
        return ItineraryStore.Told(version: version, items: items, withdrawn: withdrawn.sorted { $0.uid < $1.uid })
    }

    /// Plans `eventID` now; returns the number of messages emitted.
    @discardableResult
    public func replan(_ eventID: String) async throws -> Int {
        let started = ContinuousClock.now
        let planner = self.planner
        let service = context.configuration.kind
        let result = try await context.store.database.write { db -> (count: Int, version: Int, delegations: Int)? in
            try ItineraryStore.clearDirty(eventID, in: db)
            guard let programme = try ItineraryStore.programme(eventID, in: db) else { return nil }
            let stored = try ItineraryStore.activeDelegations(eventID: eventID, in: db)
            let input = PlanningInput(programme: programme, delegations: stored.map(\.planning))
            let previous = try ItineraryStore.latestPlan(eventID: eventID, in: db)
            let plan = planner.plan(input, previous: previous?.plan)
            let version = (previous?.version ?? 0) + 1
            let builder = ItineraryBuilder(programme: programme, names: Dictionary(stored.map { ($0.planning.id, $0.planning.name) }, uniquingKeysWith: { first, _ in first }))
            let told = try ItineraryStore.told(eventID: eventID, in: db)
            let now = Date()
            var outbound: [OutboundMessage] = []
            for delegation in stored {
                let id = delegation.planning.id
                let items = builder.items(for: id, in: plan)
                let unmet = plan.unmet[id] ?? []
                if let before = told[id] {
                    let (current, changes) = ItineraryBuilder.changes(from: before.items, to: items)
                    guard !changes.isEmpty else { continue }
                    outbound.append(try OutboundMessage(
                        ItineraryChanged(
                            eventID: eventID, registrationID: id, planVersion: version, previousVersion: before.version, timeZone: programme.timeZone,
                            changes: changes, items: current, unmet: unmet, changedAt: now),
                        correlationID: delegation.correlationID))
                    try ItineraryStore.saveTold(eventID: eventID, registrationID: id, Self.told(version, current, changes, before), in: db)
                } else {
                    outbound.append(try OutboundMessage(
                        ItineraryPlanned(eventID: eventID, registrationID: id, planVersion: version, timeZone: programme.timeZone, items: items, unmet: unmet, plannedAt: now),
                        correlationID: delegation.correlationID))
                    try ItineraryStore.saveTold(eventID: eventID, registrationID: id, .init(version: version, items: items, withdrawn: told[id]?.withdrawn ?? []), in: db)
                }
            }
            // Delegations no longer taking part: every item is withdrawn.
            let active = Set(stored.map(\.planning.id))
            for (id, before) in told.sorted(by: { $0.key < $1.key }) where !active.contains(id) && !before.items.isEmpty {
                let (_, changes) = ItineraryBuilder.changes(from: before.items, to: [])
                let correlation = try ItineraryStore.delegation(id, in: db)?.correlationID
                outbound.append(try OutboundMessage(
                    ItineraryChanged(
                        eventID: eventID, registrationID: id, planVersion: version, previousVersion: before.version, timeZone: programme.timeZone,
                        changes: changes, items: [], unmet: [], changedAt: now),
                    correlationID: correlation))
                try ItineraryStore.saveTold(eventID: eventID, registrationID: id, Self.told(version, [], changes, before), in: db)
            }
            guard !outbound.isEmpty || previous?.plan != plan else { return (0, previous?.version ?? 0, stored.count) }
            try ItineraryStore.savePlan(plan, version: version, in: db)
            try Outbox.append(outbound, causedBy: "plan:\(eventID):\(version)", service: service, in: db)
            return (outbound.count, version, stored.count)
        }
        guard let result else { return 0 }
        if result.count > 0 { context.outbox.ring() }
        context.logger.info("planned", metadata: [
            "event": "\(eventID)", "plan.version": "\(result.version)", "delegations": "\(result.delegations)",
            "messages": "\(result.count)", "duration_ms": "\(milliseconds(ContinuousClock.now - started))",
        ])
        return result.count
    }
}
