import AMQP
import Foundation
import Testing
import TestSupport

@Suite struct SmokeTests {
    @Test func publishAndConsumeOneMessage() async throws {
        let connection = try await TestBroker.connect()
        let queue = TestBroker.uniqueName("smoke")
        try await connection.declare(Topology(queues: [QueueDeclaration(name: queue, autoDelete: true)]))
        try await connection.publish(Data("hello".utf8), exchange: "", routingKey: queue, properties: .persistentJSON(messageID: "m1"))
        let consumer = try await connection.consume(queue: queue, prefetch: 10)
        var iterator = consumer.makeAsyncIterator()
        let delivery = try #require(try await iterator.next())
        #expect(String(decoding: delivery.body, as: UTF8.self) == "hello")
        #expect(delivery.properties.messageID == "m1")
        delivery.ack()
        await consumer.cancel()
        await connection.close()
    }
}
