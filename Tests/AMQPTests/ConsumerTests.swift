import AMQP
import Foundation
import TestSupport
import Testing

@Suite struct ConsumerTests {
    /// A work queue dead-lettering into a parking queue through a fanout exchange.
    private func deadLetterSetup(_ connection: AMQPConnection, quorumLimit: Int64? = nil) async throws -> (
        work: String, parked: String, dlx: String
    ) {
        let work = TestBroker.uniqueName("work")
        let parked = TestBroker.uniqueName("parked")
        let dlx = TestBroker.uniqueName("dlx")
        var workQueue = QueueDeclaration(name: work, kind: quorumLimit == nil ? .classic : .quorum, deadLetterExchange: dlx)
        workQueue.deliveryLimit = quorumLimit
        try await connection.declare(
            Topology(
                exchanges: [.fanout(dlx)], queues: [workQueue, QueueDeclaration(name: parked)],
                bindings: [Binding(queue: parked, exchange: dlx, routingKey: "")]))
        return (work, parked, dlx)
    }

    private func cleanUp(_ connection: AMQPConnection, _ names: (work: String, parked: String, dlx: String)) async throws {
        try await connection.delete(queue: names.work)
        try await connection.delete(queue: names.parked)
        try await connection.delete(exchange: names.dlx)
    }

    @Test func nackWithRequeueRedeliversAndRejectDeadLettersWithXDeath() async throws {
        let connection = try await TestBroker.connect()
        let names = try await deadLetterSetup(connection)
        try await connection.publish(
            Data("{\"n\":1}".utf8), exchange: "", routingKey: names.work, properties: .persistentJSON(messageID: "one"))

        let consumer = try await connection.consume(queue: names.work, prefetch: 10)
        let collector = Collector(consumer)
        let first = try #require(await collector.wait(for: 1).first)
        #expect(!first.redelivered)
        first.nack(requeue: true)
        let second = try #require(await collector.wait(for: 2).last)
        #expect(second.redelivered)
        #expect(second.properties.messageID == "one")
        second.reject(requeue: false)

        #expect(try await eventually(within: 30) { try await connection.queueState(names.parked).messageCount == 1 })
        let parked = try #require(try await connection.get(queue: names.parked))
        let deaths = parked.delivery.deaths
        #expect(deaths.count == 1)
        #expect(deaths.first?.queue == names.work)
        #expect(deaths.first?.reason == .rejected)
        #expect(deaths.first?.count == 1)
        #expect(deaths.first?.exchange == "")
        #expect(deaths.first?.routingKeys == [names.work])
        #expect(deaths.first?.time != nil)
        #expect(parked.delivery.properties.messageID == "one")
        parked.delivery.ack()
        await consumer.cancel()
        try await cleanUp(connection, names)
        await connection.close()
    }

    @Test func aNackWithoutRequeueDeadLettersToo() async throws {
        let connection = try await TestBroker.connect()
        let names = try await deadLetterSetup(connection)
        try await connection.publish(Data("{}".utf8), exchange: "", routingKey: names.work, properties: .persistentJSON(messageID: "two"))
        let taken = try #require(try await connection.get(queue: names.work))
        taken.delivery.nack(requeue: false)
        #expect(try await eventually(within: 30) { try await connection.queueState(names.parked).messageCount == 1 })
        let parked = try #require(try await connection.get(queue: names.parked))
        #expect(parked.delivery.deaths.map(\.reason) == [.rejected])
        parked.delivery.ack()
        try await cleanUp(connection, names)
        await connection.close()
    }

    @Test func aQuorumQueueDeliveryLimitDeadLettersAPoisonMessage() async throws {
        let connection = try await TestBroker.connect()
        let names = try await deadLetterSetup(connection, quorumLimit: 2)
        try await connection.publish(
            Data("{}".utf8), exchange: "", routingKey: names.work, properties: .persistentJSON(messageID: "poison"))
        let consumer = try await connection.consume(queue: names.work, prefetch: 1)
        let collector = Collector(consumer)
        // Requeue it every time, as a process that crashes on it would. Each requeue is a Raft
        // command the quorum queue writes to its log before it redelivers; with the whole suite
        // writing to the same disk that once took over 5 s, so allow what the other waits allow.
        var seen = 0
        while seen < 3 {
            let deliveries = await collector.wait(for: seen + 1, within: 30)
            guard deliveries.count > seen else { break }
            #expect(deliveries[seen].deliveryCount == Int64(seen))
            deliveries[seen].nack(requeue: true)
            seen += 1
        }
        #expect(seen == 3, "delivered once and redelivered up to the limit of 2")
        #expect(try await eventually(within: 30) { try await connection.queueState(names.parked).messageCount == 1 })
        let parked = try #require(try await connection.get(queue: names.parked))
        #expect(parked.delivery.deaths.first?.reason == .deliveryLimit)
        parked.delivery.ack()
        await consumer.cancel()
        try await cleanUp(connection, names)
        await connection.close()
    }

    @Test func prefetchBoundsUnsettledDeliveries() async throws {
        let connection = try await TestBroker.connect()
        let queue = TestBroker.uniqueName("prefetch")
        try await connection.declare(Topology(queues: [QueueDeclaration(name: queue)]))
        for n in 0..<20 {
            try await connection.publish(Data("\(n)".utf8), exchange: "", routingKey: queue)
        }
        let consumer = try await connection.consume(queue: queue, prefetch: 5)
        let collector = Collector(consumer)
        await collector.wait(for: 5)
        try await Task.sleep(for: .milliseconds(300))
        #expect(collector.count == 5, "no more than the prefetch count while none is acked")
        collector.deliveries[0].ack()
        collector.deliveries[1].ack()
        await collector.wait(for: 7)
        try await Task.sleep(for: .milliseconds(300))
        #expect(collector.count == 7)
        // Ack the rest as they come; the order is the queue's.
        var acked = 2
        while acked < 20 {
            let deliveries = await collector.wait(for: acked + 1)
            guard deliveries.count > acked else { break }
            for delivery in deliveries[acked...] { delivery.ack() }
            acked = deliveries.count
        }
        #expect(collector.deliveries.map { String(decoding: $0.body, as: UTF8.self) } == (0..<20).map(String.init))
        await consumer.cancel()
        #expect(try await eventually(within: 30) { try await connection.queueState(queue).messageCount == 0 })
        try await connection.delete(queue: queue)
        await connection.close()
    }

    @Test func deletingTheQueueEndsTheConsumerWithAClearError() async throws {
        let connection = try await TestBroker.connect()
        let admin = try await TestBroker.connect("admin")
        let queue = TestBroker.uniqueName("deleted")
        try await connection.declare(Topology(queues: [QueueDeclaration(name: queue)]))
        let consumer = try await connection.consume(queue: queue)
        let collector = Collector(consumer)
        try await admin.delete(queue: queue)
        #expect(await collector.waitUntilFinished(within: 5))
        #expect(collector.error as? AMQPError == .consumerCancelled(queue: queue))
        // The connection is still usable.
        #expect(try await connection.exchangeExists("amq.topic"))
        await admin.close()
        await connection.close()
    }

    @Test func cancelEndsTheSequenceAndUnackedDeliveriesCanStillBeAcked() async throws {
        let connection = try await TestBroker.connect()
        let queue = TestBroker.uniqueName("cancel")
        try await connection.declare(Topology(queues: [QueueDeclaration(name: queue, autoDelete: false)]))
        for n in 0..<3 { try await connection.publish(Data("\(n)".utf8), exchange: "", routingKey: queue) }
        let consumer = try await connection.consume(queue: queue, prefetch: 10)
        let collector = Collector(consumer)
        let deliveries = await collector.wait(for: 3)
        await consumer.cancel()
        #expect(await collector.waitUntilFinished())
        for delivery in deliveries { delivery.ack() }
        #expect(try await eventually(within: 30) { try await connection.queueState(queue).consumerCount == 0 })
        await connection.close()
        // Had the acks been lost, closing would have put the three messages back.
        let check = try await TestBroker.connect("check")
        #expect(try await check.queueState(queue).messageCount == 0)
        try await check.delete(queue: queue)
        await check.close()
    }
}
