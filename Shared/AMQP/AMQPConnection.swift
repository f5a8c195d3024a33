import Logging

import struct Foundation.Data

/// A connection to RabbitMQ, with its own thread, publisher confirms and automatic recovery.
///
/// - Publishing: every `publish` is confirmed by the broker before it returns. Many may be
///   outstanding at once (up to `maxUnconfirmed` on the wire), so throughput is not bound by
///   round trips. It throws on `basic.nack`, on `basic.return` of a mandatory message, when
///   `publishTimeout` passes, and when the connection is lost (if recovery is off or set to
///   `.fail`).
/// - Consuming: `consume` gives an `AsyncSequence` of deliveries with manual acks.
/// - Topology: `declare` (recorded, and declared again after recovery) and passive checks.
/// - Recovery: after a lost connection it reconnects with exponential backoff and jitter,
///   re-declares the recorded topology, resumes consumers and republishes unconfirmed messages.
///   A republished message may reach the queue twice; consumers deduplicate by message id.
///
/// Use one connection for publishing and another for consuming, so that a consumer's flow
/// control never stalls publishing (RabbitMQ blocks publishing connections under memory alarm).
public final class AMQPConnection: Sendable {
    let engine: ConnectionEngine

    private init(engine: ConnectionEngine) { self.engine = engine }

    /// Connects (TCP or TLS, AMQP handshake, channels). The first attempt is not retried: bad
    /// credentials or an unreachable broker throw at once with a clear `AMQPError`.
    public static func connect(_ configuration: AMQPConfiguration, logger: Logger = Logger(label: "amqp")) async throws -> AMQPConnection {
        var logger = logger
        logger[metadataKey: "amqp.connection"] = "\(configuration.connectionName)"
        let engine = try ConnectionEngine(configuration: configuration, logger: logger)
        try await withCheckedThrowingContinuation { (connected: CheckedContinuation<Void, any Error>) in
            engine.start(connected: connected)
        }
        return AMQPConnection(engine: engine)
    }

    public var configuration: AMQPConfiguration { engine.configuration }

    /// Open, recovering, or closed.
    public var status: ConnectionStatus { engine.publicStatus.withLock { $0 } }

    // MARK: Publishing

    /// Publishes one message and returns once the broker has confirmed it: for a persistent
    /// message on durable queues, written to disk; on quorum queues, accepted by a majority.
    ///
    /// With `mandatory`, a message no queue is bound for throws `.unroutable`; without, such a
    /// message is confirmed and dropped by the broker.
    public func publish(
        _ body: Data, exchange: String, routingKey: String,
        properties: MessageProperties = MessageProperties(), mandatory: Bool = false
    ) async throws {
        let deadline = monotonicNanoseconds() + nanoseconds(engine.configuration.publishTimeout)
        let mailbox = engine.mailbox
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let publish = PendingPublish(
                exchange: exchange, routingKey: routingKey, mandatory: mandatory, properties: properties,
                body: body, deadline: deadline, completion: .single(continuation))
            if !mailbox.submit(urgent: false, { engine in engine.enqueuePublish(publish) }) {
                continuation.resume(throwing: AMQPError.closed)
            }
        }
    }

    /// Publishes several messages in one go and returns when the broker has settled each: one
    /// result per message, in order. Cheaper per message than as many `publish` calls (one
    /// suspension for the batch); the confirm semantics are the same, message by message.
    public func publish(_ messages: [OutgoingMessage]) async -> [Result<Void, AMQPError>] {
        guard !messages.isEmpty else { return [] }
        let deadline = monotonicNanoseconds() + nanoseconds(engine.configuration.publishTimeout)
        let mailbox = engine.mailbox
        return await withCheckedContinuation { (continuation: CheckedContinuation<[Result<Void, AMQPError>], Never>) in
            let batch = PublishBatch(count: messages.count, continuation: continuation)
            let publishes = messages.enumerated().map { index, message in
                PendingPublish(
                    exchange: message.exchange, routingKey: message.routingKey, mandatory: message.mandatory,
                    properties: message.properties, body: message.body, deadline: deadline,
                    completion: .batch(batch, index: index))
            }
            if !mailbox.submit(urgent: false, { engine in engine.enqueuePublishes(publishes) }) {
                for index in publishes.indices { batch.resolve(index, .closed) }
            }
        }
    }

    // MARK: Consuming

    /// Starts consuming `queue` with manual acks; at most `prefetch` deliveries are unsettled at
    /// once. The sequence ends when the consumer is cancelled or the connection closed, and
    /// throws `.consumerCancelled` if the broker cancels it (queue deleted). It survives
    /// connection recovery: deliveries not settled before the loss come again, redelivered.
    public func consume(queue: String, prefetch: UInt16 = 100, arguments: AMQPTable = [:]) async throws -> AMQPConsumer {
        let (stream, continuation) = AsyncThrowingStream<Delivery, any Error>.makeStream()
        let mailbox = engine.mailbox
        let (channel, tag) = try await withCheckedThrowingContinuation {
            (reply: CheckedContinuation<(channel: UInt16, tag: String), any Error>) in
            let submitted = mailbox.submit { engine in
                engine.startConsumer(queue: queue, prefetch: prefetch, arguments: arguments, stream: continuation, reply: reply)
            }
            if !submitted { reply.resume(throwing: AMQPError.closed) }
        }
        continuation.onTermination = { termination in
            guard case .cancelled = termination else { return }
            mailbox.submit { engine in engine.cancelConsumer(channel: channel, tag: tag, waiter: nil) }
        }
        return AMQPConsumer(queue: queue, tag: tag, channel: channel, mailbox: mailbox, stream: stream)
    }

    /// Takes one message with `basic.get` (manual ack), or nil if the queue is empty. The second
    /// value is how many messages remain. Settle the delivery before closing the connection.
    public func get(queue: String) async throws -> (delivery: Delivery, remaining: Int)? {
        try await perform { engine in engine.get(queue: queue).map { $0.map { ($0.0, $0.1) } } }
    }

    // MARK: Topology

    /// Declares exchanges, queues and bindings (idempotent if the arguments match; a mismatch
    /// throws `PRECONDITION_FAILED`). They are declared again after every recovery.
    public func declare(_ topology: Topology) async throws {
        try await perform { engine in engine.declare(topology, record: true) }
    }

    /// The queue's counts, or `.channelClosedByBroker(NOT_FOUND)` if it does not exist.
    public func queueState(_ name: String) async throws -> QueueState {
        try await perform { engine in
            engine.rpc { raw, channel in try raw.declareQueue(channel, QueueDeclaration(name: name), passive: true) }
        }
    }

    /// Whether the exchange exists (passive declare).
    public func exchangeExists(_ name: String) async throws -> Bool {
        do {
            try await perform { engine in
                engine.rpc { raw, channel in try raw.declareExchange(channel, ExchangeDeclaration(name: name, type: "topic"), passive: true)
                }
            }
            return true
        } catch AMQPError.channelClosedByBroker(.notFound, _) {
            return false
        }
    }

    /// Whether the queue exists (passive declare).
    public func queueExists(_ name: String) async throws -> Bool { try await queueStateIfExists(name) != nil }

    /// The queue's state, or nil if it does not exist (one passive declare).
    public func queueStateIfExists(_ name: String) async throws -> QueueState? {
        do {
            return try await queueState(name)
        } catch AMQPError.channelClosedByBroker(.notFound, _) {
            return nil
        }
    }

    public func unbind(_ binding: Binding) async throws {
        try await perform { engine in
            engine.unrecord(binding)
            return engine.rpc { raw, channel in try raw.unbindQueue(channel, binding) }
        }
    }

    /// Removes all ready messages; returns how many.
    @discardableResult
    public func purge(queue: String) async throws -> Int {
        try await perform { engine in engine.rpc { raw, channel in try raw.purgeQueue(channel, queue) } }
    }

    /// Deletes a queue (and stops re-declaring it); returns how many messages it held.
    @discardableResult
    public func delete(queue: String, ifUnused: Bool = false, ifEmpty: Bool = false) async throws -> Int {
        try await perform { engine in
            engine.forget(queue: queue)
            return engine.rpc { raw, channel in try raw.deleteQueue(channel, queue, ifUnused: ifUnused, ifEmpty: ifEmpty) }
        }
    }

    /// Deletes an exchange (and stops re-declaring it).
    public func delete(exchange: String, ifUnused: Bool = false) async throws {
        try await perform { engine in
            engine.forget(exchange: exchange)
            return engine.rpc { raw, channel in try raw.deleteExchange(channel, exchange, ifUnused: ifUnused) }
        }
    }

    // MARK: Closing

    /// Waits (up to `timeout` seconds) for unconfirmed publishes, then closes the connection.
    /// Consumers' sequences end; unsettled deliveries return to their queues.
    public func close(timeout: Double = 5) async {
        let mailbox = engine.mailbox
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            if !mailbox.submit({ engine in engine.beginClose(timeout: timeout, waiter: waiter) }) {
                waiter.resume()
            }
        }
    }

    /// Runs `body` on the connection's thread and returns its result.
    private func perform<T: Sendable>(_ body: @escaping @Sendable (ConnectionEngine) -> Result<T, AMQPError>) async throws -> T {
        let mailbox = engine.mailbox
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            if !mailbox.submit({ engine in continuation.resume(with: body(engine).mapError { $0 }) }) {
                continuation.resume(throwing: AMQPError.closed)
            }
        }
    }
}

/// The deliveries of one consumer, in order.
public struct AMQPConsumer: AsyncSequence, Sendable {
    public typealias Element = Delivery

    public let queue: String
    /// The consumer tag the broker knows it by.
    public let tag: String
    let channel: UInt16
    let mailbox: Mailbox
    let stream: AsyncThrowingStream<Delivery, any Error>

    /// Stops new deliveries (`basic.cancel`) and waits for the broker's answer; the sequence then
    /// ends. Deliveries already received can and should still be settled.
    public func cancel() async {
        let (channel, tag, mailbox) = (self.channel, self.tag, self.mailbox)
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            if !mailbox.submit({ engine in engine.cancelConsumer(channel: channel, tag: tag, waiter: waiter) }) {
                waiter.resume()
            }
        }
    }

    /// As `cancel()`, without waiting for the broker's answer (for shutdown handlers, which
    /// cannot await).
    public func requestCancel() {
        let (channel, tag) = (self.channel, self.tag)
        mailbox.submit { engine in engine.cancelConsumer(channel: channel, tag: tag, waiter: nil) }
    }

    public func makeAsyncIterator() -> AsyncThrowingStream<Delivery, any Error>.AsyncIterator {
        stream.makeAsyncIterator()
    }
}

/// A message to publish with `publish(_:)` (the batch form).
public struct OutgoingMessage: Sendable {
    public var body: Data
    public var exchange: String
    public var routingKey: String
    public var properties: MessageProperties
    public var mandatory: Bool

    public init(
        body: Data, exchange: String, routingKey: String, properties: MessageProperties = MessageProperties(), mandatory: Bool = false
    ) {
        self.body = body
        self.exchange = exchange
        self.routingKey = routingKey
        self.properties = properties
        self.mandatory = mandatory
    }
}
