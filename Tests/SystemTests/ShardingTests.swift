import AMQP
import Foundation
import GRDB
import Messages
import ServiceCatalog
import ServiceRuntime
import TestSupport
import Testing

/// The same stream through one instance of each service, and through two shards of each (fed by
/// the services' consistent-hash exchanges, each shard with its own store): the results are the
/// same, and both shards of each service did part of the work.
@Suite(.serialized) struct ShardingTests {
    /// What a run ends with, in a form two runs can be compared by.
    struct Outcome: Equatable {
        /// event|reference → status and revision
        var registrations: [String: String] = [:]
        /// registration → its itinerary's items (without SEQUENCE, which counts re-plans)
        var itineraries: [String: String] = [:]
        /// registration|kind|recipient → how many were sent
        var notifications: [String: Int] = [:]
        var emails = 0
        /// instance → rows it holds (registrations, delegations or notifications)
        var work: [String: Int] = [:]
    }

    static let events = (1...6).map { "shard-event-\($0)" }

    /// Six events with room for 8 delegations each, 11 submissions per event, amendments and
    /// cancellations (which promote from the waitlist), in one fixed order.
    static func stream(exchange: String) throws -> [OutgoingMessage] {
        func domain<T: MessagePayload>(_ payload: T, id: String) throws -> OutgoingMessage {
            try OutgoingMessage.domain(payload, exchange: exchange, messageID: id, appID: "sharding-test")
        }
        var stream: [OutgoingMessage] = []
        for event in events {
            stream.append(try domain(Samples.programme(eventID: event, organisations: 8, delegates: 100), id: "programme-\(event)"))
        }
        for index in 0..<11 {
            for event in events {
                stream.append(
                    try domain(
                        Samples.submission(eventID: event, reference: "r-\(index)", delegates: 1 + index % 3),
                        id: "submit-\(event)-\(index)"))
                if index % 4 == 3 {
                    stream.append(
                        try domain(
                            Samples.submission(eventID: event, reference: "r-\(index - 2)", revision: 2, delegates: 1),
                            id: "amend-\(event)-\(index)"))
                }
                if index == 9 || index == 10 {
                    let cancel = RegistrationCancelRequested(eventID: event, reference: "r-\(index - 8)", reason: "plans changed")
                    stream.append(try domain(cancel, id: "cancel-\(event)-\(index)"))
                }
            }
        }
        return stream
    }

    /// Runs the stream through `shards` instances of each service. Registrations go first;
    /// itineraries and notifications start once registrations has settled, so that each event is
    /// planned once, from everything (a re-plan keeps earlier tours, so a plan depends on how
    /// the changes arrived in time; the comparison is about where messages go, not timing).
    static func run(shards: Int) async throws -> Outcome {
        // Fixed names: the consistent-hash ring depends on the queues' names, so which shard
        // gets which event is the same in every run (and the test's "both shards worked" holds).
        let exchange = "sharding-\(shards)"
        func instances(_ kind: String) -> [String] { shards == 1 ? ["\(kind)-single"] : (1...shards).map { "\(kind)-shard\($0)" } }
        let smtp = try await SMTPTestServer()
        let system = try RunningSystem(amqpURL: TestBroker.url, smtpPort: smtp.port, exchange: exchange)
        system.environment["ARCHIVE_MAX_AGE"] = "1h"
        system.environment["ITINERARIES_PLAN_DEBOUNCE"] = "3"
        system.environment["ITINERARIES_PLAN_MAX_WAIT"] = "60"
        let connection = try await TestBroker.connect("sharding test")
        func removeTopology() async {
            for kind in SystemServices.all {
                for instance in instances(kind.name) {
                    let names = ServiceNames(service: instance, exchange: exchange)
                    for queue in [names.inbox, names.deadLetterQueue, names.retryQueue(1), names.retryQueue(2)] {
                        _ = try? await connection.delete(queue: queue)
                    }
                    try? await connection.delete(exchange: names.deadLetterExchange)
                }
                try? await connection.delete(exchange: kind.sharding(exchange: exchange).exchange)
            }
            _ = try? await connection.delete(queue: ServiceNames(service: "", exchange: exchange).archive)
            try? await connection.delete(exchange: exchange)
        }
        await removeTopology()  // what an interrupted earlier run left
        let extra = shards == 1 ? [:] : ["REGISTRATIONS_SHARDED": "true", "ITINERARIES_SHARDED": "true", "NOTIFICATIONS_SHARDED": "true"]
        defer {
            smtp.stop()
            system.removeFiles()
        }

        // Every shard's queue is bound before anything is published (as `delegation-ops topology
        // apply` does in production): a shard bound later takes over keys whose history went to
        // another (README, "Adding a shard").
        for kind in SystemServices.all {
            for instance in instances(kind.name) { try await system.declareQueues(of: instance, sharded: shards > 1, on: connection) }
        }
        for instance in instances("registrations") { try system.start(instance, extra: extra) }
        for message in try stream(exchange: exchange) {
            try await connection.publish(
                message.body, exchange: message.exchange, routingKey: message.routingKey, properties: message.properties, mandatory: true)
        }

        func depth(_ kinds: [String]) async -> Int {
            var total = 0
            for instance in kinds.flatMap(instances) {
                for queue in ["\(instance).inbox", "\(instance).retry.1", "\(instance).retry.2"] {
                    total += (try? await connection.queueState(queue).messageCount) ?? 1
                }
            }
            return total
        }
        func count(_ instance: String, _ sql: String) -> Int {
            (try? system.read(instance) { db in try Int.fetchOne(db, sql: sql) ?? 0 }) ?? -1
        }

        let registered = await RunningSystem.settle(within: 120) {
            let queued = await depth(["registrations"])
            let backlog = instances("registrations").map { count($0, "SELECT count(*) FROM outbox WHERE published_at IS NULL") }.reduce(
                0, +)
            let rows = instances("registrations").map { count($0, "SELECT count(*) FROM registrations") }
            return (queued == 0 && backlog == 0, "\(queued) \(backlog) \(rows)")
        }
        #expect(registered.settled, "registrations did not settle: \(registered.last)")

        for kind in ["itineraries", "notifications"] { for instance in instances(kind) { try system.start(instance, extra: extra) } }
        let settled = await RunningSystem.settle(within: 180) {
            let queued = await depth(["registrations", "itineraries", "notifications"])
            let pending = instances("notifications").map {
                count($0, "SELECT count(*) FROM notifications WHERE status IN ('pending', 'sending')")
            }.reduce(0, +)
            let unplanned = instances("itineraries").map {
                count($0, "SELECT count(*) FROM plan_inputs WHERE generation > planned_generation")
            }.reduce(0, +)
            return (queued == 0 && pending == 0 && unplanned == 0, "\(queued) \(pending) \(unplanned) \(smtp.messages.count)")
        }
        #expect(settled.settled, "the system did not settle: \(settled.last)")

        var outcome = Outcome()
        for instance in instances("registrations") {
            let rows = try system.read(instance) { db in
                try Row.fetchAll(db, sql: "SELECT event_id, reference, status, revision FROM registrations")
            }
            for row in rows { outcome.registrations["\(row[0] as String)|\(row[1] as String)"] = "\(row[2] as String) rev\(row[3] as Int)" }
            outcome.work[instance] = rows.count
        }
        for instance in instances("itineraries") {
            let rows = try system.read(instance) { db in try Row.fetchAll(db, sql: "SELECT registration_id, items FROM itineraries") }
            for row in rows {
                let items = try MessageCoding.decode([ItineraryItem].self, fromText: row[1] as String).map { item in
                    "\(item.uid) \(item.kind) \(item.start.timeIntervalSince1970) \(item.end.timeIntervalSince1970) "
                        + "\(item.venueID ?? "-") \(item.busID ?? "-") \(item.counterpart ?? "-") \(item.table ?? 0)"
                }
                outcome.itineraries[row[0] as String] = items.joined(separator: "; ")
            }
            outcome.work[instance] = count(instance, "SELECT count(*) FROM delegations")
        }
        for instance in instances("notifications") {
            let rows = try system.read(instance) { db in
                try Row.fetchAll(db, sql: "SELECT registration_id, kind, recipient_email FROM notifications WHERE status = 'sent'")
            }
            for row in rows {
                outcome.notifications["\(row[0] as String? ?? "-")|\(row[1] as String)|\(row[2] as String)", default: 0] += 1
            }
            outcome.work[instance] = rows.count
        }
        outcome.emails = smtp.messages.count

        await system.stopAll()
        await removeTopology()
        await connection.close()
        return outcome
    }

    @Test func twoShardsPerServiceGiveTheSingleInstanceResults() async throws {
        let single = try await Self.run(shards: 1)
        let sharded = try await Self.run(shards: 2)

        #expect(single.registrations.count == Self.events.count * 11)
        #expect(Set(single.registrations.values.map { $0.prefix { $0 != " " } }) == ["accepted", "waitlisted", "cancelled"])
        #expect(!single.itineraries.isEmpty)
        #expect(single.emails == single.notifications.values.reduce(0, +))

        #expect(sharded.registrations == single.registrations)
        #expect(sharded.itineraries == single.itineraries)
        // A notice about a registration cancelled soon after is withdrawn if still pending when
        // the cancellation arrives, or was sent already: timing, in one instance as in shards.
        let cancelled = Set(
            single.registrations.filter { $0.value.hasPrefix("cancelled") }.keys.map { key in
                let parts = key.split(separator: "|").map(String.init)
                return registrationID(eventID: parts[0], reference: parts[1])
            })
        func settled(_ notifications: [String: Int]) -> [String: Int] {
            notifications.filter { key, _ in
                let parts = key.split(separator: "|")
                return !cancelled.contains(String(parts[0])) || parts[1] == "cancelled"
            }
        }
        let (expected, found) = (settled(single.notifications), settled(sharded.notifications))
        let differing = Set(expected.keys).union(found.keys).filter { expected[$0] != found[$0] }
        #expect(differing.isEmpty, "\(differing.sorted().map { "\($0): \(expected[$0] ?? 0) vs \(found[$0] ?? 0)" })")
        #expect(expected.count > 100)
        #expect(sharded.emails == sharded.notifications.values.reduce(0, +))
        // Each shard of each service held part of the keys, and none held them all.
        for (instance, rows) in sharded.work.sorted(by: { $0.key < $1.key }) {
            #expect(rows > 0, "\(instance) did no work: \(sharded.work)")
        }
        print("sharding test: single \(single.work.sorted { $0.key < $1.key }) sharded \(sharded.work.sorted { $0.key < $1.key })")
    }
}
