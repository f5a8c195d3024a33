import AMQP
import Foundation
import TestSupport
import Testing

@Suite struct TopologyTests {
    @Test func declaresQuorumStreamAndClassicQueuesWithTypedArguments() async throws {
        let connection = try await TestBroker.connect()
        let base = TestBroker.uniqueName("topology")
        let dlx = "\(base).dlx"
        let quorum = QueueDeclaration(
            name: "\(base).inbox", kind: .quorum, deadLetterExchange: dlx, deadLetterRoutingKey: "dead",
            deliveryLimit: 5, singleActiveConsumer: true, overflow: "reject-publish", deadLetterStrategy: "at-least-once")
        let delay = QueueDeclaration(name: "\(base).delay", deadLetterExchange: "", deadLetterRoutingKey: "\(base).inbox", messageTTL: 1000)
        let archive = QueueDeclaration.stream("\(base).archive", maxAge: "7D")
        var archiveWithBytes = archive
        archiveWithBytes.maxLengthBytes = 1_000_000_000
        let topology = Topology(
            exchanges: [.topic("\(base).events"), .direct(dlx)],
            queues: [quorum, delay, archiveWithBytes],
            bindings: [
                Binding(queue: "\(base).inbox", exchange: "\(base).events", routingKey: "registration.*"),
                Binding(queue: "\(base).archive", exchange: "\(base).events", routingKey: "#"),
            ])
        try await connection.declare(topology)
        try await connection.declare(topology)  // idempotent
        #expect(try await connection.queueExists("\(base).inbox"))
        #expect(try await connection.exchangeExists("\(base).events"))

        // The arguments really are what the broker holds.
        let listing = try await TestBroker.ctl("list_queues", "name", "type", "arguments", "--no-table-headers", "--quiet")
        let inbox = try #require(listing.split(separator: "\n").first { $0.hasPrefix("\(base).inbox\t") })
        #expect(inbox.contains("quorum"))
        #expect(inbox.contains("{\"x-delivery-limit\",5}"))
        #expect(inbox.contains("{\"x-single-active-consumer\",true}"))
        #expect(inbox.contains("{\"x-dead-letter-routing-key\",\"dead\"}"))
        #expect(inbox.contains("{\"x-dead-letter-strategy\",\"at-least-once\"}"))
        let stream = try #require(listing.split(separator: "\n").first { $0.hasPrefix("\(base).archive\t") })
        #expect(stream.contains("stream"))
        #expect(stream.contains("{\"x-max-age\",\"7D\"}"))
        #expect(stream.contains("{\"x-max-length-bytes\",1000000000}"))

        // A message through the topic exchange lands in the inbox and the archive.
        try await connection.publish(Data("{}".utf8), exchange: "\(base).events", routingKey: "registration.submitted", mandatory: true)
        #expect(try await connection.queueState("\(base).inbox").messageCount == 1)

        for queue in ["\(base).inbox", "\(base).delay", "\(base).archive"] { try await connection.delete(queue: queue) }
        try await connection.delete(exchange: "\(base).events")
        try await connection.delete(exchange: dlx)
        await connection.close()
    }

    @Test func passiveChecksReportMissingThingsAndTheConnectionCarriesOn() async throws {
        let connection = try await TestBroker.connect()
        #expect(try await connection.queueExists("no.such.queue") == false)
        #expect(try await connection.exchangeExists("no.such.exchange") == false)
        await #expect {
            _ = try await connection.queueState("no.such.queue")
        } throws: { error in
            (error as? AMQPError)?.replyCode == .notFound && "\(error)".contains("NOT_FOUND (404)")
        }
        #expect(try await connection.exchangeExists("amq.direct"))
        #expect(connection.status == .open)
        await connection.close()
    }

    @Test func redeclaringWithOtherArgumentsIsAPreconditionFailure() async throws {
        let connection = try await TestBroker.connect()
        let name = TestBroker.uniqueName("mismatch")
        try await connection.declare(Topology(queues: [.quorum(name)]))
        await #expect {
            try await connection.declare(Topology(queues: [.classic(name)]))
        } throws: { error in
            (error as? AMQPError)?.replyCode == .preconditionFailed
        }
        try await connection.delete(queue: name)
        await connection.close()
    }

    @Test func purgeRemovesReadyMessages() async throws {
        let connection = try await TestBroker.connect()
        let name = TestBroker.uniqueName("purge")
        try await connection.declare(Topology(queues: [QueueDeclaration(name: name, autoDelete: true)]))
        for _ in 0..<7 { try await connection.publish(Data(), exchange: "", routingKey: name) }
        #expect(try await connection.purge(queue: name) == 7)
        #expect(try await connection.queueState(name).messageCount == 0)
        await connection.close()
    }
}
