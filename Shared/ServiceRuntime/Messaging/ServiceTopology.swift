import AMQP
import Messages

/// The broker objects the system and each service need, declared idempotently at start-up.
public enum ServiceTopology {
    /// The domain exchange (topic, routing key = message type) and the archive stream bound to
    /// every routing key, kept for `maxAge` (`30D`), from which ops replay.
    public static func domain(exchange: String, archiveMaxAge: String) -> Topology {
        let archive = ServiceNames(service: "", exchange: exchange).archive
        return Topology(
            exchanges: [.topic(exchange)],
            queues: [.stream(archive, maxAge: archiveMaxAge)],
            bindings: [Binding(queue: archive, exchange: exchange, routingKey: "#")])
    }

    /// A service's own queues:
    /// - `<service>.inbox`: quorum, bound to each consumed routing key; a message redelivered
    ///   more than `deliveryLimit` times (it crashes the process) is dead-lettered by the broker;
    /// - `<service>.retry.<n>`: one delay queue per retry, whose TTL returns the message to the
    ///   inbox after `retryDelays[n-1]` seconds;
    /// - `<service>.dead-letter` (fanout exchange) → `<service>.dead-letters` (quorum): the
    ///   parking lot, for invalid messages, permanent failures and exhausted retries.
    public static func service(_ names: ServiceNames, consumes: [MessageType], retryDelays: [Double], deliveryLimit: Int) -> Topology {
        let inbox = QueueDeclaration(name: names.inbox, kind: .quorum, deadLetterExchange: names.deadLetterExchange, deliveryLimit: Int64(deliveryLimit))
        let parking = QueueDeclaration.quorum(names.deadLetterQueue)
        let delays = retryDelays.enumerated().map { index, seconds in
            QueueDeclaration(
                name: names.retryQueue(index + 1), kind: .quorum, deadLetterExchange: "", deadLetterRoutingKey: names.inbox,
                messageTTL: Int64(seconds * 1000))
        }
        return Topology(
            exchanges: [.fanout(names.deadLetterExchange)],
            queues: [inbox, parking] + delays,
            bindings: consumes.map { Binding(queue: names.inbox, exchange: names.exchange, routingKey: $0.rawValue) }
                + [Binding(queue: names.deadLetterQueue, exchange: names.deadLetterExchange, routingKey: "")])
    }
}
