import AMQP
import Messages

/// The broker objects the system and each service need, declared idempotently at start-up.
public enum ServiceTopology {
    /// The domain exchange (topic, routing key = message type), the archive stream bound to
    /// every type it keeps (`MessageType.isArchived`), kept for `maxAge` (`30D`), from which ops
    /// replay, and the check for unknown types.
    ///
    /// The archive takes every type of the contract, so a message of a type no service consumes
    /// is routed and confirmed, and `mandatory` cannot catch it. The check makes it visible: every message also
    /// goes to `<exchange>.type-check` (internal), which sends the contract's types on to
    /// `<exchange>.known-types` (bound to nothing) and everything else to its alternate exchange,
    /// `<exchange>.unrouted`, whose queue `<exchange>.unrouted.messages` keeps the latest
    /// `unroutedLimit` such messages for `delegation-ops status` and `failed list`.
    public static func domain(exchange: String, archiveMaxAge: String, unroutedLimit: Int64 = 10_000) -> Topology {
        let names = ServiceNames(service: "", exchange: exchange)
        return Topology(
            exchanges: [
                .topic(exchange),
                ExchangeDeclaration(name: names.unroutedExchange, type: "fanout", internal: true),
                ExchangeDeclaration(name: names.knownTypes, type: "fanout", internal: true),
                ExchangeDeclaration(
                    name: names.typeCheck, type: "topic", internal: true, arguments: ["alternate-exchange": .string(names.unroutedExchange)]
                ),
            ],
            queues: [
                .stream(names.archive, maxAge: archiveMaxAge),
                // Quorum, as every queue a service declares: a classic queue lives on one node,
                // and re-declaring it while that node is down fails every client's recovery.
                QueueDeclaration(name: names.unroutedQueue, kind: .quorum, maxLength: unroutedLimit, overflow: "drop-head"),
            ],
            bindings: [
                Binding(queue: names.unroutedQueue, exchange: names.unroutedExchange, routingKey: "")
            ]
                + MessageType.allCases.filter(\.isArchived).map {
                    Binding(queue: names.archive, exchange: exchange, routingKey: $0.rawValue)
                },
            exchangeBindings: [ExchangeBinding(destination: names.typeCheck, source: exchange, routingKey: "#")]
                + MessageType.allCases.map {
                    ExchangeBinding(destination: names.knownTypes, source: names.typeCheck, routingKey: $0.rawValue)
                })
    }

    /// Bindings of earlier versions to remove when the domain topology is applied: the archive's
    /// binding to every routing key (`#`, before contract 1.3), which kept personal data sent in
    /// plain text.
    public static func retiredBindings(exchange: String) -> [Binding] {
        [Binding(queue: ServiceNames(service: "", exchange: exchange).archive, exchange: exchange, routingKey: "#")]
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
        let inbox = QueueDeclaration(
            name: names.inbox, kind: .quorum, deadLetterExchange: names.deadLetterExchange, deliveryLimit: Int64(deliveryLimit))
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
                bindings: consumes.map { Binding(queue: names.inbox, exchange: names.exchange, routingKey: $0.rawValue) } + [parkingBinding]
            )
        }
        let direct = consumes.filter { sharding.everyShard.contains($0) }
        let hashed = consumes.filter { !sharding.everyShard.contains($0) }
        return Topology(
            exchanges: [.fanout(names.deadLetterExchange), .consistentHash(sharding.exchange, hashHeader: sharding.hashHeader)],
            queues: [inbox, parking] + delays,
            bindings: direct.map { Binding(queue: names.inbox, exchange: names.exchange, routingKey: $0.rawValue) }
                + [Binding(queue: names.inbox, exchange: sharding.exchange, routingKey: "1"), parkingBinding],
            exchangeBindings: hashed.map {
                ExchangeBinding(destination: sharding.exchange, source: names.exchange, routingKey: $0.rawValue)
            })
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
