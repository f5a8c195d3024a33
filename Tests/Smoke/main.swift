// A short end-to-end run of the AMQP module against a broker, for `deploy/demo`: declares a
// topic exchange and a quorum queue, publishes messages with confirms, consumes and acks them,
// and prints what happened.
//
//   amqp-smoke [AMQP_URL] [COUNT]
import AMQP
import Foundation
import Logging

let arguments = CommandLine.arguments
let url = arguments.count > 1 ? arguments[1] : "amqp://guest:guest@127.0.0.1:5673/"
let count = arguments.count > 2 ? Int(arguments[2]) ?? 1000 : 1000

func say(_ text: String) { print("amqp-smoke: \(text)") }

do {
    var configuration = try AMQPConfiguration(url: url)
    configuration.connectionName = "amqp-smoke publisher"
    let publisher = try await AMQPConnection.connect(configuration)
    configuration.connectionName = "amqp-smoke consumer"
    let consuming = try await AMQPConnection.connect(configuration)
    say("connected to \(configuration) (heartbeat \(configuration.heartbeat) s)")

    let exchange = "smoke.events"
    let queue = "smoke.inbox.\(getpid())"
    try await publisher.declare(
        Topology(
            exchanges: [.topic(exchange)],
            queues: [QueueDeclaration(name: queue, kind: .quorum, deliveryLimit: 5)],
            bindings: [Binding(queue: queue, exchange: exchange, routingKey: "registration.*")]))
    say("declared topic exchange '\(exchange)' and quorum queue '\(queue)' bound to registration.*")

    let started = Date()
    let messages = (0..<count).map { n in
        OutgoingMessage(
            body: Data("{\"reference\":\"smoke-\(n)\",\"delegation\":\"Công ty \(n)\"}".utf8),
            exchange: exchange, routingKey: "registration.submitted",
            properties: MessageProperties(
                contentType: "application/json", headers: ["schema-version": "1"], deliveryMode: .persistent,
                messageID: "smoke-\(n)", timestamp: Date(), type: "registration.submitted", appID: "amqp-smoke"),
            mandatory: true)
    }
    let results = await publisher.publish(messages)
    let failed = results.filter { if case .failure = $0 { return true } else { return false } }.count
    say(
        "published \(count) messages, \(count - failed) confirmed by the broker, \(failed) failed, "
            + "in \(String(format: "%.2f", Date().timeIntervalSince(started))) s"
    )

    let consumer = try await consuming.consume(queue: queue, prefetch: 100)
    var received = Set<String>()
    for try await delivery in consumer {
        if let id = delivery.properties.messageID { received.insert(id) }
        delivery.ack()
        if received.count == count { break }
    }
    say("consumed and acked \(received.count) distinct messages")
    let state = try await consuming.queueState(queue)
    say("queue '\(queue)' now holds \(state.messageCount) ready messages")

    try await publisher.delete(queue: queue)
    try await publisher.delete(exchange: exchange)
    await consuming.close()
    await publisher.close()
    say(failed == 0 && received.count == count ? "OK" : "FAILED")
    exit(failed == 0 && received.count == count ? 0 : 1)
} catch {
    say("error: \(error)")
    exit(1)
}
