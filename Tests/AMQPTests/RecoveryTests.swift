import AMQP
import Foundation
import Synchronization
import TestSupport
import Testing

/// Connections closed by the broker (`rabbitmqctl close_all_connections`) in a vhost of the
/// test's own, so that other tests running at the same time are not touched.
@Suite struct RecoveryTests {
    /// 32 concurrent publishers, each waiting for its confirm, until `stop` is set.
    private static func publish(
        on connection: AMQPConnection, to queue: String, until stop: Locked<Bool>, recording confirmed: Locked<Set<String>>
    ) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<32 {
                group.addTask {
                    var n = 0
                    while !stop.value {
                        let id = "w\(worker)-\(n)"
                        try await connection.publish(
                            Data("{\"id\":\"\(id)\"}".utf8), exchange: "", routingKey: queue, properties: .persistentJSON(messageID: id))
                        confirmed.withLock { _ = $0.insert(id) }
                        n += 1
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    @Test func noConfirmedMessageIsLostWhenTheBrokerClosesTheConnection() async throws {
        try await TestBroker.withVirtualHost { vhost in
            let connection = try await TestBroker.connect(vhost: vhost) { $0.recovery.initialDelay = 0.05 }
            let queue = "recovery.publish"
            try await connection.declare(Topology(queues: [.quorum(queue)]))

            let confirmed = Locked<Set<String>>([])
            let stop = Locked(false)
            let publishers = Task { try await Self.publish(on: connection, to: queue, until: stop, recording: confirmed) }
            #expect(await eventually(within: 30) { confirmed.value.count > 500 })
            try await TestBroker.ctl("close_all_connections", "-p", vhost, "recovery test")
            #expect(await eventually(within: 15) { connection.status == .open })
            let afterRecovery = confirmed.value.count
            #expect(await eventually(within: 30) { confirmed.value.count > afterRecovery + 500 }, "publishing carries on after recovery")
            stop.withLock { $0 = true }
            try await publishers.value

            // Every confirmed message is in the queue (republished ones may be there twice).
            let expected = confirmed.value
            let consumer = try await connection.consume(queue: queue, prefetch: 500)
            let collector = Collector(consumer, autoAck: true)
            _ = await eventually(within: 20) {
                expected.isSubset(of: Set(collector.deliveries.compactMap(\.properties.messageID)))
            }
            let seen = Set(collector.deliveries.compactMap(\.properties.messageID))
            #expect(expected.subtracting(seen).isEmpty, "lost: \(expected.subtracting(seen).prefix(5))")
            await consumer.cancel()
            await connection.close()
        }
    }

    @Test func consumersResumeAndTopologyIsDeclaredAgainAfterRecovery() async throws {
        try await TestBroker.withVirtualHost { vhost in
            let consumerConnection = try await TestBroker.connect("consumer", vhost: vhost) { $0.recovery.initialDelay = 0.05 }
            let queue = "recovery.consume"
            let exchange = "recovery.exchange"
            try await consumerConnection.declare(
                Topology(
                    exchanges: [.topic(exchange)], queues: [QueueDeclaration(name: queue, autoDelete: true)],
                    bindings: [Binding(queue: queue, exchange: exchange, routingKey: "#")]))
            let consumer = try await consumerConnection.consume(queue: queue, prefetch: 10)
            let collector = Collector(consumer, autoAck: true)

            // The auto-delete queue disappears with the connection; recovery must declare it
            // (and its binding) again before resuming the consumer.
            try await TestBroker.ctl("close_all_connections", "-p", vhost, "recovery test")
            #expect(
                await eventually(within: 15) {
                    guard consumerConnection.status == .open else { return false }
                    return (try? await consumerConnection.queueState(queue).consumerCount) == 1
                })

            let publisher = try await TestBroker.connect("publisher", vhost: vhost)
            for n in 0..<10 {
                try await publisher.publish(Data("\(n)".utf8), exchange: exchange, routingKey: "after.recovery", mandatory: true)
            }
            let deliveries = await collector.wait(for: 10)
            #expect(deliveries.count == 10)
            #expect(collector.error == nil)
            await publisher.close()
            await consumer.cancel()
            await consumerConnection.close()
        }
    }

    @Test func withRecoveryOffALostConnectionFailsEverythingClearly() async throws {
        try await TestBroker.withVirtualHost { vhost in
            let connection = try await TestBroker.connect(vhost: vhost) { $0.recovery.enabled = false }
            try await connection.declare(Topology(queues: [QueueDeclaration(name: "q")]))
            let consumer = try await connection.consume(queue: "q")
            let collector = Collector(consumer)
            try await TestBroker.ctl("close_all_connections", "-p", vhost, "going away")
            #expect(await collector.waitUntilFinished(within: 10))
            guard case AMQPError.connectionClosedByBroker(.connectionForced, let text)? = collector.error as? AMQPError else {
                Issue.record("expected CONNECTION_FORCED, got \(String(describing: collector.error))")
                return
            }
            #expect(text.contains("going away"))
            #expect(connection.status == .closed)
            await #expect(throws: AMQPError.closed) {
                try await connection.publish(Data(), exchange: "", routingKey: "q")
            }
        }
    }
}
