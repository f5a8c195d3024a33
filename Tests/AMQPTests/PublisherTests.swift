import AMQP
import Foundation
import TestSupport
import Testing

@Suite struct PublisherTests {
    @Test func thousandsOfOutstandingPublishesAreAllConfirmed() async throws {
        let connection = try await TestBroker.connect { $0.maxUnconfirmed = 4096 }
        let queue = TestBroker.uniqueName("window")
        try await connection.declare(Topology(queues: [.quorum(queue)]))
        let count = 5000
        let body = Data(repeating: UInt8(ascii: "x"), count: 512)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 0..<count {
                group.addTask {
                    try await connection.publish(body, exchange: "", routingKey: queue, properties: .persistentJSON(messageID: "m\(n)"))
                }
            }
            try await group.waitForAll()
        }
        let state = try await connection.queueState(queue)
        #expect(state.messageCount == count)
        try await connection.delete(queue: queue)
        await connection.close()
    }

    @Test func anUnroutableMandatoryPublishFailsAndOthersSucceed() async throws {
        let connection = try await TestBroker.connect()
        let exchange = TestBroker.uniqueName("exchange")
        let queue = TestBroker.uniqueName("bound")
        try await connection.declare(
            Topology(
                exchanges: [.topic(exchange)], queues: [QueueDeclaration(name: queue, autoDelete: true)],
                bindings: [Binding(queue: queue, exchange: exchange, routingKey: "registration.*")]))

        await #expect {
            try await connection.publish(
                Data("{}".utf8), exchange: exchange, routingKey: "nobody.listens", properties: MessageProperties(messageID: "lost"),
                mandatory: true)
        } throws: { error in
            guard case AMQPError.unroutable(let e, let key, let code, _) = error else { return false }
            return e == exchange && key == "nobody.listens" && code == .noRoute
        }
        // Without mandatory the broker confirms and drops it; routed messages still go through.
        try await connection.publish(Data("{}".utf8), exchange: exchange, routingKey: "nobody.listens")
        try await connection.publish(Data("{}".utf8), exchange: exchange, routingKey: "registration.submitted", mandatory: true)
        #expect(try await connection.queueState(queue).messageCount == 1)
        try await connection.delete(exchange: exchange)
        await connection.close()
    }

    @Test func publishingToAMissingExchangeFailsWithNotFoundAndTheConnectionCarriesOn() async throws {
        let connection = try await TestBroker.connect()
        let queue = TestBroker.uniqueName("after")
        try await connection.declare(Topology(queues: [QueueDeclaration(name: queue, autoDelete: true)]))
        await #expect {
            try await connection.publish(Data("{}".utf8), exchange: "no.such.exchange", routingKey: "x")
        } throws: { error in
            (error as? AMQPError)?.replyCode == .notFound && "\(error)".contains("no.such.exchange")
        }
        try await connection.publish(Data("{}".utf8), exchange: "", routingKey: queue)
        #expect(try await connection.queueState(queue).messageCount == 1)
        #expect(connection.status == .open)
        await connection.close()
    }

    @Test func aBrokerThatStopsReadingCannotBlockPublishForever() async throws {
        let proxy = try StallingProxy(targetPort: try AMQPConfiguration(url: TestBroker.url).port)
        let connection = try await TestBroker.connect {
            $0.port = proxy.port
            $0.heartbeat = 0
            $0.publishTimeout = 2
            $0.ioTimeout = 2
            $0.recovery.enabled = false
        }
        let queue = TestBroker.uniqueName("stalled")
        try await connection.declare(Topology(queues: [QueueDeclaration(name: queue, autoDelete: true)]))
        proxy.stall()
        let started = Date()
        let body = Data(repeating: 0x41, count: 256 * 1024)
        // Enough bytes to fill every socket buffer between us and the broker.
        let errors = try await withThrowingTaskGroup(of: AMQPError?.self) { group in
            for _ in 0..<64 {
                group.addTask {
                    do {
                        try await connection.publish(body, exchange: "", routingKey: queue)
                        return nil
                    } catch let error as AMQPError {
                        return error
                    } catch {
                        return .library(operation: "publish", status: 0, message: "\(error)")
                    }
                }
            }
            return try await group.reduce(into: [AMQPError?]()) { $0.append($1) }
        }
        let elapsed = Date().timeIntervalSince(started)
        // Every publish ends with an error from its own deadline or the I/O watchdog (2 s each),
        // not by luck: the reasons show which. A publish that a loaded runner schedules only after
        // the watchdog dropped the connection (recovery is off) finds it closed. The time bound
        // only tells "ended" from "hung"; a loaded runner needs several times the deadlines to
        // schedule 64 writes of 256 KB (34 s measured under the whole suite on 2 cores).
        #expect(errors.count == 64)
        let reasons = "\(Set(errors.map { "\($0.map(String.init(describing:)) ?? "confirmed")" }))"
        #expect(
            errors.allSatisfy { error in
                switch error {
                case .timeout?, .connectionLost?, .closed?: return true
                default: return false
                }
            }, "\(reasons)")
        #expect(
            errors.contains { error in
                switch error {
                case .timeout?, .connectionLost?: return true
                default: return false
                }
            }, "the deadline or the watchdog ended the stalled publishes: \(reasons)")
        #expect(elapsed < 120, "every publish ended, none hung (took \(elapsed) s)")
        await connection.close(timeout: 1)
        proxy.stop()
    }
}
