import AMQP
import Foundation
import GRDB
import Messages
import ServiceRuntime
import TestSupport
import Testing

/// Adding a shard, as docs/operations.md tells an operator to: registrations runs as one shard,
/// then is stopped, re-declared as two and rebuilt from the archive through its consistent-hash
/// exchange, and carries on. A single unsharded instance fed the same messages is the reference:
/// the shards end with its decisions, and every message they emit (before, during and after the
/// rebuild) has an id the reference emitted too, so downstream services drop the repeats.
@Suite struct ReshardingTests {
    static let events = (1...8).map { "reshard-event-\($0)" }

    @Test func aServiceGoesFromOneShardToTwoByReplayingTheArchive() async throws {
        try await TestBroker.withVirtualHost { vhost in
            func ops(_ arguments: [String]) async throws {
                let result = try await OpsToolTests.ops(vhost, arguments)
                #expect(result.status == 0, "delegation-ops \(arguments.joined(separator: " ")): \(result.output)")
            }
            let system = try RunningSystem(amqpURL: OpsToolTests.url(vhost), smtpPort: 1)
            defer { system.removeFiles() }
            let connection = try await TestBroker.connect(vhost: vhost)
            let observer = "observer"
            try await ops(["topology", "apply", "--shards", "registrations=1", "--retry-delays", RunningSystem.retryDelays])
            try await connection.declare(
                Topology(
                    queues: [QueueDeclaration(name: observer)],
                    bindings: [Binding(queue: observer, exchange: "delegation", routingKey: "registration.#")]))

            // The reference's queues are bound before anything is published.
            try await system.declareQueues(of: "registrations-reference", on: connection)
            let sharded = ["REGISTRATIONS_SHARDED": "true"]
            try system.start("registrations-1", extra: sharded)
            try system.start("registrations-reference")

            func publish<T: MessagePayload>(_ payload: T, id: String) async throws {
                let message = try OutgoingMessage.domain(payload, exchange: "delegation", messageID: id, appID: "resharding-test")
                try await connection.publish(
                    message.body, exchange: message.exchange, routingKey: message.routingKey, properties: message.properties,
                    mandatory: true)
            }
            func rows(_ instance: String) -> [String: String] {
                let rows =
                    (try? system.read(instance) { db in
                        try Row.fetchAll(db, sql: "SELECT event_id, reference, status, revision FROM registrations")
                    }) ?? []
                return Dictionary(rows.map { ("\($0[0] as String)|\($0[1] as String)", "\($0[2] as String) rev\($0[3] as Int)") }) {
                    first, _ in first
                }
            }
            func idle(_ instance: String) -> Bool {
                ((try? system.read(instance) { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM outbox WHERE published_at IS NULL") })
                    ?? 1) == 0
            }
            func settled(_ instances: [String], rows expected: Int) async -> Bool {
                await eventually(within: 60) { instances.map { rows($0).count }.reduce(0, +) == expected && instances.allSatisfy(idle) }
            }

            // Before: one shard takes everything.
            for event in Self.events {
                try await publish(Samples.programme(eventID: event, organisations: 4, delegates: 100), id: "programme-\(event)")
            }
            for index in 0..<5 {
                for event in Self.events {
                    try await publish(Samples.submission(eventID: event, reference: "r-\(index)"), id: "submit-\(event)-\(index)")
                }
            }
            #expect(await settled(["registrations-1"], rows: Self.events.count * 5))

            // Adding a shard: stop the shards, set their stores aside, declare two, rebuild both
            // from the archive through the shards exchange, start both.
            await system.kill("registrations-1")
            try FileManager.default.removeItem(atPath: system.store("registrations-1"))
            // The data keys go with the registrations: every shard takes the old shard's.
            let imported = try await system.command("registrations-2", ["data-keys", "import", system.store("registrations-1") + ".keys"])
            #expect(imported.status == 0 && imported.output.contains("\(Self.events.count * 5) key(s) added"), "\(imported.output)")
            try await ops(["topology", "apply", "--shards", "registrations=2", "--retry-delays", RunningSystem.retryDelays])
            try await ops(["replay", "--to", "registrations", "--through-shards", "2", "--since", "1h"])
            try system.start("registrations-1", extra: sharded)
            try system.start("registrations-2", extra: sharded)
            #expect(await settled(["registrations-1", "registrations-2"], rows: Self.events.count * 5))

            // After: new submissions and cancellations (which promote from the waitlist).
            for event in Self.events {
                for index in 5..<7 {
                    try await publish(Samples.submission(eventID: event, reference: "r-\(index)"), id: "submit-\(event)-\(index)")
                }
                try await publish(RegistrationCancelRequested(eventID: event, reference: "r-1"), id: "cancel-\(event)")
            }
            let shards = ["registrations-1", "registrations-2"]
            #expect(await settled(shards, rows: Self.events.count * 7))
            #expect(
                await settled(["registrations-reference"], rows: Self.events.count * 7), "\(rows("registrations-reference").count) rows")

            let reference = rows("registrations-reference")
            let together = rows("registrations-1").merging(rows("registrations-2")) { first, _ in first }
            #expect(together == reference)
            #expect(Set(reference.values.map { $0.prefix { $0 != " " } }) == ["accepted", "waitlisted", "cancelled"])
            #expect(shards.allSatisfy { !rows($0).isEmpty }, "both shards hold events: \(shards.map { rows($0).count })")

            // Every id the shards emitted, the reference emitted too.
            var emitted: [String: Set<String>] = [:]
            while let (delivery, _) = try await connection.get(queue: observer) {
                emitted[delivery.properties.appID ?? "?", default: []].insert(delivery.properties.messageID ?? "?")
                delivery.ack()
            }
            let fromShards = emitted.filter { $0.key.hasPrefix("registrations-") && $0.key != "registrations-reference" }.values.reduce(
                Set()
            ) { $0.union($1) }
            #expect(!fromShards.isEmpty)
            #expect(
                fromShards.isSubset(of: emitted["registrations-reference"] ?? []),
                "new ids: \(fromShards.subtracting(emitted["registrations-reference"] ?? []).count)")

            await system.stopAll()
            await connection.close()
        }
    }
}
