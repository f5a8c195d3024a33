import AMQP
import Foundation
import TestSupport
import Testing

@Suite struct RoundTripTests {
    @Test func everyPropertyAndHeaderTypeSurvivesTheBroker() async throws {
        let connection = try await TestBroker.connect()
        let queue = TestBroker.uniqueName("roundtrip")
        try await connection.declare(Topology(queues: [QueueDeclaration(name: queue, autoDelete: true)]))

        let headers: AMQPTable = [
            "bool": .bool(true),
            "int8": .int8(-8),
            "int16": .int16(-1600),
            "uint16": .uint16(1600),
            "int32": .int32(-320_000),
            "uint32": .uint32(3_200_000_000),
            "int64": .int64(-6_400_000_000),
            "float": .float(1.5),
            "double": .double(-2.25),
            "decimal": .decimal(scale: 2, value: 12345),
            "string": .string("Đà Nẵng 岘港"),
            "bytes": .bytes([0, 1, 2, 255]),
            "timestamp": .timestamp(Date(timeIntervalSince1970: 1_768_262_400)),
            "array": .array([.string("a"), .int32(1), .bool(false), .array([.int64(2)])]),
            "table": .table(["nested": .table(["deep": .string("yes")]), "n": .int64(7)]),
            "void": .void,
        ]
        let properties = MessageProperties(
            contentType: "application/json", contentEncoding: "identity", headers: headers,
            deliveryMode: .persistent, priority: 5, correlationID: "corr-1", replyTo: "reply.queue",
            expiration: "600000", messageID: "msg-1", timestamp: Date(timeIntervalSince1970: 1_768_262_400),
            type: "registration.submitted", userID: "guest", appID: "tests", clusterID: "cluster-a")
        let body = Data("{\"delegation\":\"Công ty 深圳\"}".utf8)

        try await connection.publish(body, exchange: "", routingKey: queue, properties: properties, mandatory: true)

        let received = try #require(try await connection.get(queue: queue))
        received.delivery.ack()
        #expect(received.delivery.body == body)
        #expect(received.delivery.properties == properties)
        #expect(received.delivery.routingKey == queue)
        #expect(received.delivery.redelivered == false)
        #expect(received.remaining == 0)
        try await connection.delete(queue: queue)
        await connection.close()
    }

    @Test func theLargestTimestampsAreCopiedOnWithoutTrapping() async throws {
        // 2^64 - 1 seconds arrives as 2^64 in a Double; a copy of such a message (a retry or a
        // dead letter keeps the properties) once trapped converting it back.
        let connection = try await TestBroker.connect()
        let queue = TestBroker.uniqueName("timestamps")
        try await connection.declare(Topology(queues: [QueueDeclaration(name: queue, autoDelete: true)]))
        let far = Date(timeIntervalSince1970: 18_446_744_073_709_551_615)
        let properties = MessageProperties(
            headers: ["x-far": .timestamp(far), "x-early": .timestamp(Date(timeIntervalSince1970: -5))], timestamp: far)
        try await connection.publish(Data("1".utf8), exchange: "", routingKey: queue, properties: properties)
        let first = try #require(try await connection.get(queue: queue))
        first.delivery.ack()
        try await connection.publish(Data("2".utf8), exchange: "", routingKey: queue, properties: first.delivery.properties)
        let copy = try #require(try await connection.get(queue: queue))
        copy.delivery.ack()
        #expect(copy.delivery.properties.timestamp == Date(timeIntervalSince1970: Double(UInt64.max)))
        #expect(copy.delivery.properties.headers["x-far"] == .timestamp(Date(timeIntervalSince1970: Double(UInt64.max))))
        #expect(copy.delivery.properties.headers["x-early"] == .timestamp(Date(timeIntervalSince1970: 0)), "before 1970 is 0")
        try await connection.delete(queue: queue)
        await connection.close()
    }

    @Test func aMessageWhosePropertiesExceedAFrameFailsAloneAndTheConnectionGoesOn() async throws {
        // Headers beyond one frame once failed after the method frame was written: the
        // connection was torn down and the message sent again on every reconnect.
        let connection = try await TestBroker.connect()
        let queue = TestBroker.uniqueName("big-headers")
        try await connection.declare(Topology(queues: [QueueDeclaration(name: queue, autoDelete: true)]))
        let huge = MessageProperties(headers: ["x-padding": .string(String(repeating: "x", count: 140_000))])
        let results = await connection.publish([
            OutgoingMessage(body: Data("before".utf8), exchange: "", routingKey: queue),
            OutgoingMessage(body: Data("huge".utf8), exchange: "", routingKey: queue, properties: huge),
            OutgoingMessage(body: Data("after".utf8), exchange: "", routingKey: queue),
        ])
        guard case .failure(.unwritable(_, let key, let reason)) = results[1] else {
            Issue.record("expected unwritable, got \(results[1])")
            return
        }
        #expect(key == queue && reason.contains("frame"))
        #expect(results.enumerated().allSatisfy { $0.offset == 1 || (try? $0.element.get()) != nil }, "\(results)")
        var bodies: [String] = []
        while let received = try await connection.get(queue: queue) {
            received.delivery.ack()
            bodies.append(String(decoding: received.delivery.body, as: UTF8.self))
        }
        #expect(bodies == ["before", "after"])
        #expect(connection.status == .open)
        await connection.close()
    }

    @Test func largeBodiesSpanningManyFramesArriveWhole() async throws {
        let connection = try await TestBroker.connect()
        let queue = TestBroker.uniqueName("large")
        try await connection.declare(Topology(queues: [QueueDeclaration(name: queue, autoDelete: true)]))
        let body = Data((0..<(3 * 1024 * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        try await connection.publish(body, exchange: "", routingKey: queue)

        let consumer = try await connection.consume(queue: queue, prefetch: 1)
        let collector = Collector(consumer, autoAck: true)
        let deliveries = await collector.wait(for: 1)
        #expect(deliveries.first?.body == body)
        await consumer.cancel()
        await connection.close()
    }

    @Test func anEmptyBodyIsDelivered() async throws {
        let connection = try await TestBroker.connect()
        let queue = TestBroker.uniqueName("empty")
        try await connection.declare(Topology(queues: [QueueDeclaration(name: queue, autoDelete: true)]))
        try await connection.publish(Data(), exchange: "", routingKey: queue, properties: MessageProperties(messageID: "e"))
        let received = try #require(try await connection.get(queue: queue))
        #expect(received.delivery.body.isEmpty)
        #expect(received.delivery.properties.messageID == "e")
        received.delivery.ack()
        await connection.close()
    }
}
