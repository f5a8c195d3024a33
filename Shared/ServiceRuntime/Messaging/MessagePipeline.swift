import AMQP
import Crypto
import Foundation
import GRDB
import Logging
import Messages
import ServiceLifecycle
import Synchronization

/// Consumes the service's inbox and applies each message exactly once in effect.
///
/// For every delivery: find its type (`type` property, else the routing key) → check the
/// `schema-version` header → decode the body. A message that fails any of these can never
/// succeed: it is copied to the dead-letter queue at once with the reason in headers, and acked.
/// The rest of a batch is handled in one SQLite transaction, each message in a savepoint: if its
/// `message_id` is already in the inbox table it is a duplicate and skipped; otherwise it is
/// recorded there, the handler applies it and its outgoing messages go to the outbox. After the
/// commit the deliveries are acked. A handler's transient failure sends a copy to the next delay
/// queue (attempt count in `x-attempt`), which returns it to the inbox later; a permanent
/// failure, or the last attempt's, parks it in the dead-letter queue. Copies are published with
/// confirms before the original is acked, so a crash anywhere loses nothing (the broker
/// redelivers, the inbox table drops what was already applied).
public final class MessagePipeline: Service {
    private let configuration: ServiceConfiguration
    private let store: ServiceStore
    private let handler: any MessageHandler
    private let consuming: AMQPConnection
    private let publishing: AMQPConnection
    private let doorbell: Doorbell
    private let metrics: ServiceMetrics
    private let logger: Logger
    private let consumes: Set<MessageType>
    private let commits = Mutex(0)

    public init(
        configuration: ServiceConfiguration, store: ServiceStore, handler: any MessageHandler, consuming: AMQPConnection,
        publishing: AMQPConnection, doorbell: Doorbell, metrics: ServiceMetrics, logger: Logger
    ) {
        self.configuration = configuration
        self.store = store
        self.handler = handler
        self.consuming = consuming
        self.publishing = publishing
        self.doorbell = doorbell
        self.metrics = metrics
        self.logger = logger
        self.consumes = Set(handler.consumes)
    }

    public func run() async throws {
        let consumer = try await consuming.consume(queue: configuration.names.inbox, prefetch: UInt16(configuration.prefetch))
        logger.info("consuming", metadata: ["queue": "\(configuration.names.inbox)", "prefetch": "\(configuration.prefetch)"])
        let buffer = DeliveryBuffer()
        try await withGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    do {
                        for try await delivery in consumer { buffer.append(delivery) }
                        buffer.finish(nil)
                    } catch {
                        buffer.finish(error)
                    }
                }
                group.addTask {
                    while let batch = await buffer.next(max: self.configuration.batchSize) {
                        await self.process(batch)
                    }
                }
                try await group.waitForAll()
            }
        } onGracefulShutdown: {
            // Stop new deliveries; what was delivered is still processed and acked.
            consumer.requestCancel()
        }
        if let error = buffer.error { throw error }
        logger.info("stopped consuming; in-flight messages finished", metadata: ["queue": "\(configuration.names.inbox)"])
    }

    // MARK: One batch

    private enum Verdict {
        case handle(IncomingMessage)
        case park(FailureKind, String)
    }

    private enum Outcome {
        case handled(emitted: Int)
        case duplicate
        case retry(String)
        case park(FailureKind, String)
    }

    func process(_ batch: [Delivery]) async {
        let verdicts = batch.map(classify)
        var outcomes = verdicts.map { verdict -> Outcome? in
            if case .park(let kind, let reason) = verdict { return .park(kind, reason) }
            return nil
        }
        let toHandle = verdicts.enumerated().compactMap { index, verdict -> (Int, IncomingMessage)? in
            if case .handle(let message) = verdict { return (index, message) }
            return nil
        }
        if !toHandle.isEmpty {
            do {
                let results = try await store.database.write { db in
                    toHandle.map { index, message in (index, self.apply(message, in: db)) }
                }
                for (index, outcome) in results { outcomes[index] = outcome }
                injectCrashIfConfigured()
            } catch {
                // The store itself failed (disk full, locked): give the deliveries back.
                logger.error("store transaction failed; messages go back to the queue", metadata: ["error": "\(error)", "count": "\(toHandle.count)"])
                try? await Task.sleep(for: .seconds(1))
                for (index, _) in toHandle {
                    batch[index].nack(requeue: true)
                    metrics.consumed(typeName(batch[index]), outcome: "requeued")
                }
                for (index, _) in toHandle { outcomes[index] = nil }
                await settleCopies(batch, outcomes)
                return
            }
        }
        await settleCopies(batch, outcomes)
    }

    /// Publishes retry and dead-letter copies (with confirms), then acks every original whose
    /// fate is sealed: handled, duplicate, or copied. A copy that fails is requeued instead.
    private func settleCopies(_ batch: [Delivery], _ outcomes: [Outcome?]) async {
        var copies: [(index: Int, message: OutgoingMessage)] = []
        for (index, outcome) in outcomes.enumerated() {
            guard let outcome else { continue }
            switch outcome {
            case .retry(let reason):
                copies.append((index, retryCopy(of: batch[index], reason: reason)))
            case .park(let kind, let reason):
                copies.append((index, deadLetterCopy(of: batch[index], kind: kind, reason: reason)))
            case .handled, .duplicate:
                break
            }
        }
        var copyResults: [Int: Result<Void, AMQPError>] = [:]
        if !copies.isEmpty {
            let results = await publishing.publish(copies.map(\.message))
            for (copy, result) in zip(copies, results) { copyResults[copy.index] = result }
        }
        var emitted = 0
        for (index, outcome) in outcomes.enumerated() {
            guard let outcome else { continue }
            let delivery = batch[index]
            let type = typeName(delivery)
            if case .failure(let error)? = copyResults[index] {
                logger.error("could not copy a failed message; it goes back to the queue", metadata: ["message.id": "\(delivery.properties.messageID ?? "-")", "error": "\(error)"])
                delivery.nack(requeue: true)
                metrics.consumed(type, outcome: "requeued")
                continue
            }
            delivery.ack()
            switch outcome {
            case .handled(let count):
                emitted += count
                metrics.consumed(type, outcome: "handled")
            case .duplicate:
                metrics.consumed(type, outcome: "duplicate")
                logger.debug("duplicate skipped", metadata: ["message.id": "\(delivery.properties.messageID ?? "-")", "message.type": "\(type)"])
            case .retry(let reason):
                metrics.consumed(type, outcome: "retried")
                metrics.retried(type)
                logger.warning("handler failed; will retry", metadata: [
                    "message.id": "\(delivery.properties.messageID ?? "-")", "message.type": "\(type)",
                    "attempt": "\(attempt(of: delivery))", "reason": "\(reason)",
                ])
            case .park(let kind, let reason):
                metrics.consumed(type, outcome: "dead_lettered")
                metrics.deadLettered(type, reason: kind.rawValue)
                logger.warning("message parked in the dead-letter queue", metadata: [
                    "message.id": "\(delivery.properties.messageID ?? "-")", "message.type": "\(type)",
                    "failure.kind": "\(kind.rawValue)", "reason": "\(reason)",
                ])
            }
        }
        if emitted > 0 { doorbell.ring() }
    }

    /// Inside the transaction: dedupe, record, handle, write the outbox, in a savepoint.
    private func apply(_ message: IncomingMessage, in db: Database) -> Outcome {
        var outcome = Outcome.duplicate
        let started = ContinuousClock.now
        do {
            try db.inSavepoint {
                let seen = try Bool.fetchOne(db, sql: "SELECT 1 FROM inbox WHERE message_id = ?", arguments: [message.messageID]) ?? false
                if seen { return .commit }
                try db.execute(
                    sql: "INSERT INTO inbox (message_id, message_type, received_at) VALUES (?, ?, ?)",
                    arguments: [message.messageID, message.type.rawValue, MessageCoding.format(Date())])
                let outgoing = try handler.handle(message, in: db)
                try Outbox.append(outgoing, causedBy: message.messageID, service: configuration.kind, in: db)
                outcome = .handled(emitted: outgoing.count)
                return .commit
            }
        } catch HandlerFailure.permanent(let reason) {
            outcome = .park(.permanent, reason)
        } catch HandlerFailure.transient(let reason) {
            outcome = retryOrGiveUp(message, reason)
        } catch {
            outcome = retryOrGiveUp(message, "\(error)")
        }
        metrics.handlerDuration(message.type.rawValue, ContinuousClock.now - started)
        return outcome
    }

    /// Fault injection for tests: die between commit and ack, as a power cut would.
    private func injectCrashIfConfigured() {
        guard let limit = configuration.crashAfterCommit else { return }
        let count = commits.withLock { count -> Int in
            count += 1
            return count
        }
        if count >= limit {
            logger.critical("fault injection: crashing after commit \(count), before the acks")
            kill(getpid(), SIGKILL)
        }
    }

    private func retryOrGiveUp(_ message: IncomingMessage, _ reason: String) -> Outcome {
        guard message.attempt <= configuration.retryDelays.count else {
            return .park(.retriesExhausted, "gave up after \(message.attempt) attempts; last failure: \(reason)")
        }
        return .retry(reason)
    }

    // MARK: Classifying

    private func typeName(_ delivery: Delivery) -> String {
        delivery.properties.type ?? delivery.headers[FailureHeader.originalRoutingKey]?.stringValue ?? delivery.routingKey
    }

    private func attempt(of delivery: Delivery) -> Int {
        Int(delivery.headers[FailureHeader.retryAttempt]?.intValue ?? 1)
    }

    private func classify(_ delivery: Delivery) -> Verdict {
        let name = typeName(delivery)
        guard let type = MessageType(rawValue: name), consumes.contains(type) else {
            return .park(.unexpectedType, "'\(name)' is not a message type \(configuration.serviceName) consumes (\(handler.consumes.map(\.rawValue).joined(separator: ", ")))")
        }
        let version = delivery.headers[FailureHeader.schemaVersion]
        let versionText = version?.stringValue ?? version?.intValue.map(String.init)
        if let problem = SchemaVersion.problem(with: versionText) {
            return .park(.unsupportedVersion, problem)
        }
        if let contentType = delivery.properties.contentType, !contentType.lowercased().hasPrefix("application/json") {
            return .park(.invalidBody, "content type '\(contentType)' is not application/json")
        }
        let payload: any MessagePayload
        do {
            payload = try Self.decode(type.payloadType, delivery.body)
        } catch {
            return .park(.invalidBody, "the body is not a valid \(type.rawValue): \(error)")
        }
        let messageID = delivery.properties.messageID.flatMap { $0.isEmpty ? nil : $0 } ?? Self.derivedMessageID(type: type, body: delivery.body)
        return .handle(IncomingMessage(
            type: type, payload: payload, messageID: messageID, correlationID: delivery.properties.correlationID,
            timestamp: delivery.properties.timestamp, appID: delivery.properties.appID, attempt: attempt(of: delivery)))
    }

    private static func decode<T: MessagePayload>(_ type: T.Type, _ body: Data) throws -> any MessagePayload {
        try MessageCoding.decode(type, from: body)
    }

    /// For messages published without a `message_id`: the same body twice is the same message.
    static func derivedMessageID(type: MessageType, body: Data) -> String {
        let digest = SHA256.hash(data: Data(type.rawValue.utf8) + body)
        return "sha256:" + digest.hexString
    }

    // MARK: Copies

    private func retryCopy(of delivery: Delivery, reason: String) -> OutgoingMessage {
        let attempt = attempt(of: delivery)
        var properties = delivery.properties
        properties.type = properties.type ?? typeName(delivery)
        properties.deliveryMode = .persistent
        properties.headers[FailureHeader.retryAttempt] = .int64(Int64(attempt + 1))
        properties.headers[FailureHeader.reason] = .string(reason)
        properties.headers[FailureHeader.originalExchange] = properties.headers[FailureHeader.originalExchange] ?? .string(delivery.envelope.exchange)
        properties.headers[FailureHeader.originalRoutingKey] = properties.headers[FailureHeader.originalRoutingKey] ?? .string(delivery.routingKey)
        properties.headers["x-delivery-count"] = nil
        return OutgoingMessage(body: delivery.body, exchange: "", routingKey: configuration.names.retryQueue(attempt), properties: properties, mandatory: true)
    }

    private func deadLetterCopy(of delivery: Delivery, kind: FailureKind, reason: String) -> OutgoingMessage {
        var properties = delivery.properties
        properties.deliveryMode = .persistent
        properties.headers[FailureHeader.service] = .string(configuration.serviceName)
        properties.headers[FailureHeader.kind] = .string(kind.rawValue)
        properties.headers[FailureHeader.reason] = .string(reason)
        properties.headers[FailureHeader.attempt] = .int64(Int64(attempt(of: delivery)))
        properties.headers[FailureHeader.time] = .timestamp(Date())
        properties.headers[FailureHeader.originalExchange] = properties.headers[FailureHeader.originalExchange] ?? .string(delivery.envelope.exchange)
        properties.headers[FailureHeader.originalRoutingKey] = properties.headers[FailureHeader.originalRoutingKey] ?? .string(delivery.routingKey)
        properties.headers["x-delivery-count"] = nil
        return OutgoingMessage(body: delivery.body, exchange: configuration.names.deadLetterExchange, routingKey: typeName(delivery), properties: properties, mandatory: true)
    }
}

/// Deliveries taken off the consumer, handed to the pipeline in batches of what is available.
final class DeliveryBuffer: Sendable {
    private struct State {
        var items: [Delivery] = []
        var finished = false
        var error: (any Error)?
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    var error: (any Error)? { state.withLock { $0.error } }

    func append(_ delivery: Delivery) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.items.append(delivery)
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    func finish(_ error: (any Error)?) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.finished = true
            state.error = error
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Up to `max` deliveries, waiting for at least one; nil once finished and drained.
    func next(max: Int) async -> [Delivery]? {
        while true {
            let taken = state.withLock { state -> [Delivery]?? in
                if !state.items.isEmpty {
                    let count = Swift.min(max, state.items.count)
                    let batch = Array(state.items.prefix(count))
                    state.items.removeFirst(count)
                    return .some(batch)
                }
                return state.finished ? .some(nil) : .none
            }
            if let taken { return taken }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if !state.items.isEmpty || state.finished { return true }
                    state.waiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        }
    }
}
