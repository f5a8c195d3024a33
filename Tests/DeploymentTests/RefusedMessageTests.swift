import AMQP
import Foundation
import GRDB
import Messages
import TestSupport
import Testing

@testable import ServiceRuntime

/// A message the broker will not take from a service (its routing key outside the service
/// user's topic permission, as after an upgrade whose definitions were not imported yet) waits
/// alone: the outbox relay holds it and publishes the messages behind it.
@Suite struct RefusedMessageTests {
    @Test func aMessageTheBrokerRefusesIsHeldAndTheOthersGoOn() async throws {
        try await BrokerDeployment.run { deployment in
            let service = try #require(Deployment.service("registrations"))
            let (domain, _, names) = try BrokerDefinitionsTests.topologies(service)
            let connection = try await deployment.connect(as: "registrations")
            try await connection.declare(domain)  // (the archive takes every type published here)
            let folder = try TemporaryFolder("refused")
            let store = try ServiceStore(path: folder.path("registrations.sqlite"), synchronous: .normal, migrations: { _ in })
            let types: [MessageType] = [.registrationAccepted, .itineraryPlanned, .registrationRejected, .registrationWaitlisted]
            try await store.database.write { db in
                try Outbox.append(
                    types.map {
                        OutboundMessage(
                            type: $0, body: Data("{}".utf8), correlationID: nil, partitionKeys: PartitionKeys(event: nil, recipient: nil))
                    },
                    causedBy: "refused-test", service: "registrations", in: db)
            }
            let configuration = ServiceConfiguration(
                serviceName: "registrations", amqp: TestBroker.configuration("refused"), exchange: names.exchange, storePath: store.path)
            let metrics = ServiceMetrics(service: "registrations")
            let relay = OutboxRelay(
                store: store, connection: connection, configuration: configuration, doorbell: Doorbell(), metrics: metrics,
                logger: TestBroker.logger, refusedHold: 3600)
            func rows() async throws -> [(type: String, published: Bool, held: String?)] {
                try await store.database.read { db in
                    try Row.fetchAll(db, sql: "SELECT message_type, published_at, held_reason FROM outbox ORDER BY sequence").map {
                        ($0["message_type"], ($0["published_at"] as String?) != nil, $0["held_reason"])
                    }
                }
            }

            // registrations may not publish itinerary.planned: that one is held, the three
            // others are published, the two behind it included, in one round.
            #expect(try await relay.publishBatch() == 4)
            let first = try await rows()
            #expect(first.map(\.published) == [true, false, true, true], "\(first)")
            let reason = try #require(first[1].held)
            #expect(reason.contains("ACCESS_REFUSED") && reason.contains("itinerary.planned"), "\(reason)")
            #expect(try await store.outboxBacklog() == 1)
            #expect(
                metrics.render().contains("messages_refused_total{service=\"registrations\",type=\"itinerary.planned\"} 1"),
                "\(metrics.render())")
            // While held it is not tried again.
            #expect(try await relay.publishBatch() == 0)

            // The permission is granted (the definitions imported); once its hold has passed,
            // the message goes.
            try await TestBroker.ctl(
                "set_topic_permissions", "-p", deployment.vhost, try #require(deployment.users["registrations"]), names.exchange,
                "^(registration\\..+|itinerary\\.planned)$", ".*")
            try await store.database.write { db in try db.execute(sql: "UPDATE outbox SET held_until = '2000-01-01T00:00:00.000Z'") }
            #expect(try await relay.publishBatch() == 1)
            #expect(try await rows().allSatisfy(\.published))
            #expect(try await store.outboxBacklog() == 0)
            await connection.close()
        }
    }
}
