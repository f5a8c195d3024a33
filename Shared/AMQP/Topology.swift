/// An exchange to declare (or check).
public struct ExchangeDeclaration: Sendable, Hashable {
    public var name: String
    /// `direct`, `fanout`, `topic`, `headers`, or a plugin's type such as `x-consistent-hash`.
    public var type: String
    public var durable: Bool
    public var autoDelete: Bool
    public var `internal`: Bool
    public var arguments: AMQPTable

    public init(
        name: String, type: String, durable: Bool = true, autoDelete: Bool = false, internal: Bool = false, arguments: AMQPTable = [:]
    ) {
        self.name = name
        self.type = type
        self.durable = durable
        self.autoDelete = autoDelete
        self.internal = `internal`
        self.arguments = arguments
    }

    public static func topic(_ name: String) -> ExchangeDeclaration { ExchangeDeclaration(name: name, type: "topic") }
    public static func direct(_ name: String) -> ExchangeDeclaration { ExchangeDeclaration(name: name, type: "direct") }
    public static func fanout(_ name: String) -> ExchangeDeclaration { ExchangeDeclaration(name: name, type: "fanout") }
    /// Routes by a hash of the routing key; a binding's routing key is its weight
    /// (plugin `rabbitmq_consistent_hash_exchange`).
    /// A consistent-hash exchange (plugin `rabbitmq_consistent_hash_exchange`): hashes the
    /// routing key, or `hashHeader`'s value; a queue's binding key is its weight.
    public static func consistentHash(_ name: String, hashHeader: String? = nil) -> ExchangeDeclaration {
        ExchangeDeclaration(name: name, type: "x-consistent-hash", arguments: hashHeader.map { ["hash-header": .string($0)] } ?? [:])
    }
}

/// A queue to declare (or check), with the arguments RabbitMQ knows as typed fields.
public struct QueueDeclaration: Sendable, Hashable {
    public enum Kind: String, Sendable {
        case classic, quorum, stream
    }

    public var name: String
    public var kind: Kind
    public var durable: Bool
    public var exclusive: Bool
    public var autoDelete: Bool
    /// `x-dead-letter-exchange`.
    public var deadLetterExchange: String?
    /// `x-dead-letter-routing-key` (default: the message's own routing key).
    public var deadLetterRoutingKey: String?
    /// `x-message-ttl`, milliseconds.
    public var messageTTL: Int64?
    /// `x-delivery-limit` (quorum queues): after this many redeliveries the message is
    /// dead-lettered with reason `delivery_limit`.
    public var deliveryLimit: Int64?
    /// `x-single-active-consumer`.
    public var singleActiveConsumer: Bool
    /// `x-max-age` (streams), e.g. `7D`, `12h`.
    public var maxAge: String?
    /// `x-max-length-bytes`.
    public var maxLengthBytes: Int64?
    /// `x-max-length`.
    public var maxLength: Int64?
    /// `x-overflow`: `drop-head`, `reject-publish`, `reject-publish-dlx`.
    public var overflow: String?
    /// `x-dead-letter-strategy` (quorum): `at-most-once` or `at-least-once`.
    public var deadLetterStrategy: String?
    /// Any other argument, added as is.
    public var extraArguments: AMQPTable

    public init(
        name: String, kind: Kind = .classic, durable: Bool = true, exclusive: Bool = false, autoDelete: Bool = false,
        deadLetterExchange: String? = nil, deadLetterRoutingKey: String? = nil, messageTTL: Int64? = nil,
        deliveryLimit: Int64? = nil, singleActiveConsumer: Bool = false, maxAge: String? = nil,
        maxLengthBytes: Int64? = nil, maxLength: Int64? = nil, overflow: String? = nil,
        deadLetterStrategy: String? = nil, extraArguments: AMQPTable = [:]
    ) {
        self.name = name
        self.kind = kind
        self.durable = durable
        self.exclusive = exclusive
        self.autoDelete = autoDelete
        self.deadLetterExchange = deadLetterExchange
        self.deadLetterRoutingKey = deadLetterRoutingKey
        self.messageTTL = messageTTL
        self.deliveryLimit = deliveryLimit
        self.singleActiveConsumer = singleActiveConsumer
        self.maxAge = maxAge
        self.maxLengthBytes = maxLengthBytes
        self.maxLength = maxLength
        self.overflow = overflow
        self.deadLetterStrategy = deadLetterStrategy
        self.extraArguments = extraArguments
    }

    public static func quorum(_ name: String) -> QueueDeclaration { QueueDeclaration(name: name, kind: .quorum) }
    public static func stream(_ name: String, maxAge: String? = nil) -> QueueDeclaration {
        QueueDeclaration(name: name, kind: .stream, maxAge: maxAge)
    }
    public static func classic(_ name: String) -> QueueDeclaration { QueueDeclaration(name: name) }

    /// The `x-…` argument table sent with `queue.declare`.
    public var arguments: AMQPTable {
        var table = AMQPTable()
        if kind != .classic { table["x-queue-type"] = .string(kind.rawValue) }
        if let deadLetterExchange { table["x-dead-letter-exchange"] = .string(deadLetterExchange) }
        if let deadLetterRoutingKey { table["x-dead-letter-routing-key"] = .string(deadLetterRoutingKey) }
        if let messageTTL { table["x-message-ttl"] = .int64(messageTTL) }
        if let deliveryLimit { table["x-delivery-limit"] = .int64(deliveryLimit) }
        if singleActiveConsumer { table["x-single-active-consumer"] = .bool(true) }
        if let maxAge { table["x-max-age"] = .string(maxAge) }
        if let maxLengthBytes { table["x-max-length-bytes"] = .int64(maxLengthBytes) }
        if let maxLength { table["x-max-length"] = .int64(maxLength) }
        if let overflow { table["x-overflow"] = .string(overflow) }
        if let deadLetterStrategy { table["x-dead-letter-strategy"] = .string(deadLetterStrategy) }
        return table.merging(extraArguments)
    }
}

/// A queue bound to an exchange.
public struct Binding: Sendable, Hashable {
    public var queue: String
    public var exchange: String
    public var routingKey: String
    public var arguments: AMQPTable

    public init(queue: String, exchange: String, routingKey: String, arguments: AMQPTable = [:]) {
        self.queue = queue
        self.exchange = exchange
        self.routingKey = routingKey
        self.arguments = arguments
    }
}

/// What a queue holds now (from `queue.declare-ok`).
/// An exchange bound to another (a RabbitMQ extension): what `source` routes with `routingKey`
/// also goes through `destination`, with its routing key unchanged.
public struct ExchangeBinding: Sendable, Hashable {
    public var destination: String
    public var source: String
    public var routingKey: String

    public init(destination: String, source: String, routingKey: String) {
        self.destination = destination
        self.source = source
        self.routingKey = routingKey
    }
}

public struct QueueState: Sendable, Hashable {
    public var name: String
    /// Messages ready for delivery (not counting unacknowledged ones).
    public var messageCount: Int
    public var consumerCount: Int
}

/// A set of declarations applied together, in order: exchanges, queues, bindings.
public struct Topology: Sendable, Hashable {
    public var exchanges: [ExchangeDeclaration]
    public var queues: [QueueDeclaration]
    public var bindings: [Binding]
    public var exchangeBindings: [ExchangeBinding]

    public init(
        exchanges: [ExchangeDeclaration] = [], queues: [QueueDeclaration] = [], bindings: [Binding] = [],
        exchangeBindings: [ExchangeBinding] = []
    ) {
        self.exchanges = exchanges
        self.queues = queues
        self.bindings = bindings
        self.exchangeBindings = exchangeBindings
    }

    /// Both topologies' declarations, without repeats.
    public func merging(_ other: Topology) -> Topology {
        func union<T: Hashable>(_ a: [T], _ b: [T]) -> [T] {
            var seen = Set(a)
            return a + b.filter { seen.insert($0).inserted }
        }
        return Topology(
            exchanges: union(exchanges, other.exchanges), queues: union(queues, other.queues), bindings: union(bindings, other.bindings),
            exchangeBindings: union(exchangeBindings, other.exchangeBindings))
    }
}
