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
    ///
    /// With `sharding`, the inbox is one shard of several: the service's consistent-hash
    /// exchange (bound to the domain exchange for each consumed type) hands it its share of the
    /// partition keys (every shard weighs 1), and the domain exchange still gives it every
    /// `everyShard` message.
    public static func service(
        _ names: ServiceNames, consumes: [MessageType], retryDelays: [Double], deliveryLimit: Int, sharding: Sharding? = nil
    ) -> Topology {
        let inbox = QueueDeclaration(name: names.inbox, kind: .quorum, deadLetterExchange: names.deadLetterExchange, deliveryLimit: Int64(deliveryLimit))
        let parking = QueueDeclaration.quorum(names.deadLetterQueue)
        let delays = retryDelays.enumerated().map { index, seconds in
            QueueDeclaration(
                name: names.retryQueue(index + 1), kind: .quorum, deadLetterExchange: "", deadLetterRoutingKey: names.inbox,
                messageTTL: Int64(seconds * 1000))
        }
        let parkingBinding = Binding(queue: names.deadLetterQueue, exchange: names.deadLetterExchange, routingKey: "")
        guard let sharding else {
            return Topology(
                exchanges: [.fanout(names.deadLetterExchange)],
                queues: [inbox, parking] + delays,
                bindings: consumes.map { Binding(queue: names.inbox, exchange: names.exchange, routingKey: $0.rawValue) } + [parkingBinding])
        }
        let direct = consumes.filter { sharding.everyShard.contains($0) }
        let hashed = consumes.filter { !sharding.everyShard.contains($0) }
        return Topology(
            exchanges: [.fanout(names.deadLetterExchange), .consistentHash(sharding.exchange, hashHeader: sharding.hashHeader)],
            queues: [inbox, parking] + delays,
            bindings: direct.map { Binding(queue: names.inbox, exchange: names.exchange, routingKey: $0.rawValue) }
                + [Binding(queue: names.inbox, exchange: sharding.exchange, routingKey: "1"), parkingBinding],
            exchangeBindings: hashed.map { ExchangeBinding(destination: sharding.exchange, source: names.exchange, routingKey: $0.rawValue) })
    }

    /// A service run as several instances, each with its own store and a share of the keys.
    public struct Sharding: Sendable, Hashable {
        /// The consistent-hash exchange in front of the shards (`<exchange>.<service>.shards`).
        public var exchange: String
        /// The header it hashes (`PartitionKeys`).
        public var hashHeader: String
        /// Messages every shard gets whatever its keys.
        public var everyShard: [MessageType]

        public init(exchange: String, hashHeader: String, everyShard: [MessageType]) {
            self.exchange = exchange
            self.hashHeader = hashHeader
            self.everyShard = everyShard
        }
    }
}
