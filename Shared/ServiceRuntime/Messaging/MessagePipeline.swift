import AMQP
import Crypto
import Foundation
import GRDB
import Logging
import Messages
import ServiceLifecycle
import Synchronization
import Tracing

/// Consumes the service's inbox and applies each message exactly once in effect.
///
/// For every delivery: find its type (`type` property, else the routing key) → check the
/// `schema-version` header and the content type → undo a `gzip`/`deflate` content encoding →
/// decode the body (a key given twice is refused). A message that fails any of these can never
/// succeed: it is parked in the dead-letter queue at once with the reason in headers, and the
/// route of its type may answer its sender (`MessageRouter.Unreadable`).
///
/// A batch is handled in one SQLite transaction, each message in a savepoint (`InboxTransaction`).
/// A message id already applied with the same body is a duplicate and skipped; with another body
/// it is a conflict and parked. Otherwise the id and a digest of the body go into the inbox
/// table, the message's route (`Dispatcher`) applies it and its outgoing messages go to the
/// outbox. After the commit the deliveries are acked. A transient failure sends a copy to the
/// next delay queue (attempt count in `x-attempt`), which returns it to the inbox later; a
/// permanent failure, or the last attempt's, parks it.
///
/// Parking is recorded in the store (table `parked`) in the batch's transaction, before the
/// copy is published; the record is marked once the broker confirms the copy. A redelivery or
/// a replay of a parked message is then acked without a second copy (unless the copy was never
/// confirmed), and only `delegation-ops failed retry` (header `x-retried-by`) processes it again.
///
/// When the store cannot commit at all (disk full, I/O error, read-only file), the pipeline
/// pauses: it cancels its consumer, returns every delivery it holds to the inbox queue as a new
/// copy (so the quorum queue's delivery limit is not used up), reports not ready, probes the
/// store with backoff, and consumes again once a write commits.
///
/// Copies are published with confirms before the original is acked, so a crash anywhere loses
/// nothing (the broker redelivers, the inbox table drops what was already applied).
///
/// Each delivery is a span (`<type> process`, a child of the sender's `traceparent`) with a
/// `handle` and a `commit` span inside; what the handler emits is published in its trace.
public final class MessagePipeline: Service {
    private let configuration: ServiceConfiguration
    private let store: ServiceStore
    private let dispatcher: Dispatcher
    private let transaction: InboxTransaction
    private let consuming: AMQPConnection
    private let publishing: AMQPConnection
    private let doorbell: Doorbell
    private let changes: ChangeSignal
    private let metrics: ServiceMetrics
    private let status: PipelineStatus
    private let logger: Logger
    private let tracer: any Tracer
    private let commits = Mutex(0)
    private let consumer = Mutex<AMQPConsumer?>(nil)

    public init(
        configuration: ServiceConfiguration, store: ServiceStore, dispatcher: Dispatcher, consuming: AMQPConnection,
        publishing: AMQPConnection, doorbell: Doorbell, changes: ChangeSignal = ChangeSignal(), metrics: ServiceMetrics,
        status: PipelineStatus = PipelineStatus(), logger: Logger, tracer: any Tracer = InstrumentationSystem.tracer
    ) {
        self.configuration = configuration
        self.store = store
        self.dispatcher = dispatcher
        self.transaction = InboxTransaction(service: configuration.kind, attempts: configuration.retryDelays.count + 1)
        self.consuming = consuming
        self.publishing = publishing
        self.doorbell = doorbell
        self.changes = changes
        self.metrics = metrics
        self.status = status
        self.logger = logger
        self.tracer = tracer
    }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                let consumer = try await consuming.consume(queue: configuration.names.inbox, prefetch: UInt16(configuration.prefetch))
                self.consumer.withLock { $0 = consumer }
                // A shutdown that came while subscribing found no consumer to cancel.
                if Task.isShuttingDownGracefully { consumer.requestCancel() }
                status.set(.consuming)
                logger.info("consuming", metadata: ["queue": "\(configuration.names.inbox)", "prefetch": "\(configuration.prefetch)"])
                guard let failure = try await consume(consumer) else { break }
                status.set(.paused(failure.description))
                metrics.paused(true)
                await waitForStore(failure)
                metrics.paused(false)
            }
        } onGracefulShutdown: {
            // Stop new deliveries; what was delivered is still processed and acked.
            self.consumer.withLock { $0 }?.requestCancel()
        }
        logger.info("stopped consuming; in-flight messages finished", metadata: ["queue": "\(configuration.names.inbox)"])
    }

    /// Processes `consumer`'s deliveries until its sequence ends (nil), or until the store cannot
    /// commit (the failure): then the consumer is cancelled and everything held is returned.
    private func consume(_ consumer: AMQPConsumer) async throws -> StoreUnavailable? {
        let buffer = DeliveryBuffer()
        let failure = await withTaskGroup(of: StoreUnavailable?.self) { group in
            group.addTask {
                do {
                    for try await delivery in consumer { buffer.append(delivery) }
                    buffer.finish(nil)
                } catch {
                    buffer.finish(error)
                }
                return nil
            }
            group.addTask {
                while let batch = await buffer.next(max: self.configuration.batchSize) {
                    guard let failure = await self.process(batch) else { continue }
                    consumer.requestCancel()
                    var held = batch
                    while let more = await buffer.next(max: .max) { held += more }
                    await self.giveBack(held, because: failure)
                    return failure
                }
                return nil
            }
            var failure: StoreUnavailable?
            for await result in group where result != nil { failure = result }
            return failure
        }
        if let failure { return failure }
        if let error = buffer.error { throw error }
        return nil
    }

    /// Probes the store with backoff until a write commits (or the service shuts down).
    private func waitForStore(_ failure: StoreUnavailable) async {
        logger.error(
            "the store cannot commit; stopped consuming until it can", metadata: ["store": "\(store.path)", "reason": "\(failure)"])
        var delay = 0.5
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let pause = delay
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(pause)) }
            if Task.isShuttingDownGracefully || Task.isCancelled { return }
            guard let reason = await store.probeWrite() else {
                logger.notice("the store commits again; consuming again", metadata: ["store": "\(store.path)"])
                return
            }
            status.set(.paused(reason))
            delay = min(delay * 2, 30)
            logger.warning("the store still cannot commit", metadata: ["reason": "\(reason)", "retry_in_s": "\(delay)"])
        }
    }

    // MARK: One batch

    /// A delivery the runtime could read, with what it needs to know about its body.
    struct Candidate {
        var message: DecodedMessage
        /// SHA-256 of the (decoded) body.
        var digest: String
        /// Sent back by `delegation-ops failed retry`: processed even if parked before.
        var retriedByOps: Bool
    }

    /// A delivery that can never be processed, found before the transaction.
    struct Unprocessable {
        var type: String
        var kind: FailureKind
        var reason: String
        var messageID: String
        var digest: String
        var retriedByOps: Bool
        var answers: [OutboundMessage]
    }

    enum Verdict {
        case handle(Candidate)
        case park(Unprocessable)
    }

    typealias Outcome = InboxTransaction.Outcome

    /// Processes one batch; returns the store's failure if the batch could not be committed (its
    /// deliveries are then untouched: the caller returns them).
    func process(_ batch: [Delivery]) async -> StoreUnavailable? {
        let sent = batch.map { TraceContext(headers: $0.headers) }
        let spans = zip(batch, sent).map { delivery, sent in startSpan(delivery, parent: sent) }
        let verdicts = zip(batch, zip(spans, sent)).map { delivery, traced in
            classify(delivery, trace: TraceContext(traced.0.context, tracer: tracer) ?? traced.1)
        }
        let outcomes: [Outcome]
        let committing: DefaultTracerClock.Instant
        do {
            (outcomes, committing) = try await store.database.write { db in
                let outcomes = try zip(verdicts, spans).map { verdict, span in
                    let handling = self.tracer.startSpan("handle", context: span.context)
                    defer { handling.end() }
                    let trace = TraceContext(handling.context, tracer: self.tracer)
                    switch verdict {
                    case .handle(let candidate):
                        let started = ContinuousClock.now
                        defer { self.metrics.handlerDuration(candidate.message.metadata.type.rawValue, ContinuousClock.now - started) }
                        return try self.transaction.apply(
                            candidate.message, digest: candidate.digest, retriedByOps: candidate.retriedByOps, trace: trace, in: db)
                    case .park(let message):
                        return try self.transaction.park(
                            messageID: message.messageID, digest: message.digest, type: message.type, kind: message.kind,
                            reason: message.reason,
                            answers: message.answers, retriedByOps: message.retriedByOps, trace: trace, in: db)
                    }
                }
                return (outcomes, DefaultTracerClock.now)
            }
            injectCrashIfConfigured()
        } catch {
            let failure = error as? StoreUnavailable ?? StoreUnavailable(description: StoreUnavailable.describe(error))
            for span in spans {
                span.recordError(failure)
                span.setStatus(SpanStatus(code: .error, message: "the store cannot commit; returned to the inbox"))
                span.end()
            }
            return failure
        }
        for span in spans { tracer.startSpan("commit", context: span.context, at: committing).end() }
        await settle(batch, outcomes, spans)
        return nil
    }

    /// The span of one delivery, a child of the context its sender published it in (`sent`).
    private func startSpan(_ delivery: Delivery, parent sent: TraceContext?) -> any Span {
        let parent = sent?.serviceContext(tracer: tracer) ?? .topLevel
        let type = typeLabel(delivery)
        return tracer.startMessagingSpan(
            "\(type) process", parent: parent, kind: .consumer, operation: "process", destination: configuration.names.inbox,
            messageID: delivery.properties.messageID, correlationID: delivery.properties.correlationID)
    }

    /// Publishes retry and dead-letter copies (with confirms), marks the parked ones copied, then
    /// acks every original whose fate is sealed (and ends its span). A copy that fails is
    /// requeued instead.
    private func settle(_ batch: [Delivery], _ outcomes: [Outcome], _ spans: [any Span]) async {
        var copies: [(index: Int, message: OutgoingMessage)] = []
        for (index, outcome) in outcomes.enumerated() {
            switch outcome {
            case .retry(let reason):
                copies.append((index, retryCopy(of: batch[index], reason: reason)))
            case .park(let kind, let reason, _, _):
                copies.append((index, deadLetterCopy(of: batch[index], kind: kind, reason: reason)))
            case .handled, .duplicate, .alreadyParked:
                break
            }
        }
        var copyResults: [Int: Result<Void, AMQPError>] = [:]
        if !copies.isEmpty {
            let results = await publishing.publish(copies.map(\.message))
            for (copy, result) in zip(copies, results) { copyResults[copy.index] = result }
        }
        let copiedParkings = outcomes.enumerated().compactMap { index, outcome -> (messageID: String, digest: String)? in
            guard case .park(_, _, let messageID, let digest) = outcome, case .success? = copyResults[index] else { return nil }
            return (messageID, digest)
        }
        if !copiedParkings.isEmpty {
            do {
                try await store.database.write { db in try Inbox.markCopied(copiedParkings, in: db) }
            } catch {
                // The copies are safe; only a redelivery of these ids would copy them again.
                logger.warning(
                    "could not record parked copies as confirmed", metadata: ["error": "\(error)", "count": "\(copiedParkings.count)"])
            }
        }
        var emitted = 0
        for (index, outcome) in outcomes.enumerated() {
            let delivery = batch[index]
            let type = typeName(delivery)
            let label = typeLabel(delivery)
            let messageID = delivery.properties.messageID ?? "-"
            let span = spans[index]
            defer { span.end() }
            if case .failure(let error)? = copyResults[index] {
                logger.error(
                    "could not copy a failed message; it goes back to the queue",
                    metadata: ["message.id": "\(messageID)", "error": "\(error)"])
                delivery.nack(requeue: true)
                metrics.consumed(label, outcome: "requeued")
                span.recordError(error)
                continue
            }
            delivery.ack()
            span.attributes["delegation.outcome"] = Self.outcomeName(outcome)
            switch outcome {
            case .handled(let outgoing):
                emitted += outgoing.count
                metrics.consumed(label, outcome: "handled")
                if let published = delivery.properties.timestamp { metrics.inboxLag(Date().timeIntervalSince(published)) }
            case .duplicate:
                metrics.consumed(label, outcome: "duplicate")
                logger.debug("duplicate skipped", metadata: ["message.id": "\(messageID)", "message.type": "\(type)"])
            case .alreadyParked:
                metrics.consumed(label, outcome: "already_parked")
                logger.info(
                    "parked before; not parked again (delegation-ops failed retry processes it again)",
                    metadata: ["message.id": "\(messageID)", "message.type": "\(type)"])
            case .retry(let reason):
                // (the reasons stay in the logs: a span carries no text from a body)
                span.setStatus(SpanStatus(code: .error, message: "failed; will retry"))
                metrics.consumed(label, outcome: "retried")
                metrics.retried(label)
                logger.warning(
                    "handler failed; will retry",
                    metadata: [
                        "message.id": "\(messageID)", "message.type": "\(type)", "attempt": "\(attempt(of: delivery))",
                        "reason": "\(reason)", "trace.id": "\(traceID(span, delivery))",
                    ])
            case .park(let kind, let reason, _, _):
                span.setStatus(SpanStatus(code: .error, message: "parked: \(kind.rawValue)"))
                metrics.consumed(label, outcome: "dead_lettered")
                metrics.deadLettered(label, reason: kind.rawValue)
                logger.warning(
                    "message parked in the dead-letter queue",
                    metadata: [
                        "message.id": "\(messageID)", "message.type": "\(type)", "failure.kind": "\(kind.rawValue)", "reason": "\(reason)",
                        "trace.id": "\(traceID(span, delivery))",
                    ])
            }
        }
        // An erasure is not done while the write-ahead log still holds the rows' former content.
        let erasures = zip(batch, outcomes).contains { delivery, outcome in
            guard case .handled = outcome else { return false }
            return typeName(delivery) == MessageType.registrationEraseRequested.rawValue
        }
        if erasures {
            do {
                try await store.forget()
            } catch {
                logger.error("erased, but the write-ahead log still holds the former rows", metadata: ["error": "\(error)"])
            }
        }
        if emitted > 0 || outcomes.contains(where: { if case .park = $0 { return true } else { return false } }) { doorbell.ring() }
        if outcomes.contains(where: { if case .handled = $0 { return true } else { return false } }) { changes.ring() }
    }

    /// For the logs on-call reads: the trace to look the message up in (the sender's when this
    /// service traces nothing; "-" when there is none).
    private func traceID(_ span: any Span, _ delivery: Delivery) -> Substring {
        (TraceContext(span.context, tracer: tracer) ?? TraceContext(headers: delivery.headers))?.traceID ?? "-"
    }

    private static func outcomeName(_ outcome: Outcome) -> String {
        switch outcome {
        case .handled: return "handled"
        case .duplicate: return "duplicate"
        case .alreadyParked: return "already-parked"
        case .retry: return "retried"
        case .park(let kind, _, _, _): return "parked: \(kind.rawValue)"
        }
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

    // MARK: Classifying

    /// The message's type. From the domain exchange (or the shards' exchange behind it) that is
    /// its routing key, which the broker's topic permissions check: an integration can only send
    /// the types it may publish, whatever its `type` property says (`classify` refuses a message
    /// whose property differs). A copy that came back through the default exchange (a retry, a
    /// return, `delegation-ops`; only services and operators may publish there) names its type
    /// in its `type` property or in the routing key it was first published with.
    private func typeName(_ delivery: Delivery) -> String {
        guard delivery.envelope.exchange.isEmpty else { return delivery.routingKey }
        return delivery.properties.type ?? delivery.headers[FailureHeader.originalRoutingKey]?.stringValue ?? delivery.routingKey
    }

    /// The type as a metric label or span name: a known type, else "unknown" (a sender choosing
    /// the routing key must not be able to create series without end).
    private func typeLabel(_ delivery: Delivery) -> String {
        MessageType(rawValue: typeName(delivery))?.rawValue ?? "unknown"
    }

    /// Which attempt this is: a retry copy's `x-attempt` (retries come back through the default
    /// exchange), else the first. The header on a message from the domain exchange is the
    /// sender's and is not trusted: it could skip the retries or name a delay queue that does
    /// not exist.
    private func attempt(of delivery: Delivery) -> Int {
        guard delivery.envelope.exchange.isEmpty, let stamped = delivery.headers[FailureHeader.retryAttempt]?.intValue else { return 1 }
        return Int(clamping: max(1, stamped))
    }

    /// When the service first received `delivery`: its `x-received-at` if it came back through
    /// the default exchange (a retry, a return, the ops tool), else now.
    private func receivedAt(_ delivery: Delivery) -> Date {
        guard delivery.envelope.exchange.isEmpty, let stamped = delivery.headers[FailureHeader.receivedAt]?.dateValue else { return Date() }
        return stamped
    }

    /// `trace`: the context the message is handled in (`MessageMetadata.trace`).
    private func classify(_ delivery: Delivery, trace: TraceContext?) -> Verdict {
        let name = typeName(delivery)
        let retriedByOps = delivery.headers[FailureHeader.retriedBy] != nil
        func unprocessable(_ kind: FailureKind, _ reason: String, body: Data = delivery.body, answers: [OutboundMessage] = []) -> Verdict {
            let messageID = Self.messageID(of: delivery, type: name, body: body)
            return .park(
                Unprocessable(
                    type: name, kind: kind, reason: reason, messageID: messageID, digest: Self.digest(body), retriedByOps: retriedByOps,
                    answers: answers))
        }
        if !delivery.envelope.exchange.isEmpty, let claimed = delivery.properties.type, claimed != name {
            return unprocessable(
                .unexpectedType,
                "the type property '\(claimed)' is not the routing key '\(name)'; a message's type is the routing key it is published with")
        }
        guard let type = MessageType(rawValue: name), dispatcher.routes(type) else {
            return unprocessable(
                .unexpectedType,
                "'\(name)' is not a message type \(configuration.serviceName) consumes "
                    + "(\(dispatcher.consumes.map(\.rawValue).joined(separator: ", ")))"
            )
        }
        let version = delivery.headers[FailureHeader.schemaVersion]
        let versionText = version?.stringValue ?? version?.intValue.map(String.init)
        if let problem = SchemaVersion.problem(with: versionText) {
            return unprocessable(.unsupportedVersion, problem)
        }
        if let contentType = delivery.properties.contentType, !contentType.lowercased().hasPrefix("application/json") {
            return unprocessable(.invalidBody, "content type '\(contentType)' is not application/json")
        }
        let body: Data
        do {
            body = try ContentEncoding.decode(delivery.body, encoding: delivery.properties.contentEncoding)
        } catch {
            return unprocessable(.invalidBody, error.description)
        }
        let metadata = MessageMetadata(
            type: type, messageID: Self.messageID(of: delivery, type: name, body: body), correlationID: delivery.properties.correlationID,
            timestamp: delivery.properties.timestamp, appID: delivery.properties.appID, attempt: attempt(of: delivery),
            receivedAt: receivedAt(delivery), trace: trace)
        do {
            guard let message = try dispatcher.decode(body, metadata: metadata) else {
                return unprocessable(.unexpectedType, "'\(name)' has no route in \(configuration.serviceName)")
            }
            return .handle(Candidate(message: message, digest: Self.digest(body), retriedByOps: retriedByOps))
        } catch {
            let unreadable = UnreadableMessage(
                type: type, body: body, problem: error, messageID: metadata.messageID, correlationID: metadata.correlationID,
                receivedAt: metadata.receivedAt)
            return unprocessable(
                .invalidBody, "the body is not a valid \(type.rawValue): \(error)", body: body, answers: dispatcher.answers(to: unreadable))
        }
    }

    private static func messageID(of delivery: Delivery, type: String, body: Data) -> String {
        delivery.properties.messageID.flatMap { $0.isEmpty ? nil : $0 } ?? derivedMessageID(type: type, body: body)
    }

    /// For messages published without a `message_id`: the same body twice is the same message.
    static func derivedMessageID(type: String, body: Data) -> String {
        "sha256:" + SHA256.hash(data: Data(type.utf8) + body).hexString
    }

    static func digest(_ body: Data) -> String {
        SHA256.hash(data: body).hexString
    }

    // MARK: Copies

    /// The headers every copy keeps: where it was first published, when it was first received;
    /// the quorum queue's delivery count is the queue's own and is dropped.
    private func copyProperties(of delivery: Delivery) -> MessageProperties {
        var properties = delivery.properties
        properties.type = typeName(delivery)
        properties.deliveryMode = .persistent
        properties.headers[FailureHeader.originalExchange] =
            properties.headers[FailureHeader.originalExchange] ?? .string(delivery.envelope.exchange)
        properties.headers[FailureHeader.originalRoutingKey] =
            properties.headers[FailureHeader.originalRoutingKey] ?? .string(delivery.routingKey)
        properties.headers[FailureHeader.receivedAt] = .timestamp(receivedAt(delivery))
        properties.headers["x-delivery-count"] = nil
        return properties
    }

    private func retryCopy(of delivery: Delivery, reason: String) -> OutgoingMessage {
        var properties = copyProperties(of: delivery)
        properties.headers[FailureHeader.retryAttempt] = .int64(Int64(attempt(of: delivery) + 1))
        properties.headers[FailureHeader.reason] = .string(reason)
        return OutgoingMessage(
            body: delivery.body, exchange: "", routingKey: configuration.names.retryQueue(attempt(of: delivery)), properties: properties,
            mandatory: true)
    }

    private func deadLetterCopy(of delivery: Delivery, kind: FailureKind, reason: String) -> OutgoingMessage {
        var properties = copyProperties(of: delivery)
        properties.headers[FailureHeader.service] = .string(configuration.serviceName)
        properties.headers[FailureHeader.kind] = .string(kind.rawValue)
        properties.headers[FailureHeader.reason] = .string(reason)
        properties.headers[FailureHeader.attempt] = .int64(Int64(attempt(of: delivery)))
        properties.headers[FailureHeader.time] = .timestamp(Date())
        return OutgoingMessage(
            body: delivery.body, exchange: configuration.names.deadLetterExchange, routingKey: typeName(delivery), properties: properties,
            mandatory: true)
    }

    /// Returns deliveries to the inbox queue as new copies (confirmed, then the originals acked),
    /// so that a pause does not count against the quorum queue's delivery limit. A copy the
    /// broker does not confirm is requeued the ordinary way.
    private func giveBack(_ deliveries: [Delivery], because failure: StoreUnavailable) async {
        guard !deliveries.isEmpty else { return }
        let copies = deliveries.map { delivery in
            OutgoingMessage(
                body: delivery.body, exchange: "", routingKey: configuration.names.inbox, properties: copyProperties(of: delivery),
                mandatory: true)
        }
        let results = await publishing.publish(copies)
        var returned = 0
        for (delivery, result) in zip(deliveries, results) {
            switch result {
            case .success:
                delivery.ack()
                returned += 1
                metrics.consumed(typeLabel(delivery), outcome: "returned")
            case .failure(let error):
                logger.error(
                    "could not return a message to the inbox; requeued",
                    metadata: ["message.id": "\(delivery.properties.messageID ?? "-")", "error": "\(error)"])
                delivery.nack(requeue: true)
                metrics.consumed(typeLabel(delivery), outcome: "requeued")
            }
        }
        logger.warning(
            "the store cannot commit; messages returned to the inbox", metadata: ["count": "\(returned)", "reason": "\(failure)"])
    }
}

/// What the pipeline is doing, for readiness: consuming, or paused because the store cannot
/// commit.
public final class PipelineStatus: Sendable {
    public enum State: Sendable, Equatable {
        case starting
        case consuming
        case paused(String)
    }

    private let state = Mutex(State.starting)

    public init() {}

    public var current: State { state.withLock { $0 } }

    func set(_ new: State) { state.withLock { $0 = new } }
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
