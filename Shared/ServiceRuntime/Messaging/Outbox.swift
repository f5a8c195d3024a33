import AMQP
import Crypto
import Foundation
import GRDB
import Logging
import Messages
import ServiceLifecycle
import Tracing

/// The transactional outbox: messages a handler emits are rows written in the same transaction
/// as its other changes; `OutboxRelay` publishes them after the commit.
public enum Outbox {
    /// Appends `messages`, emitted while handling `cause`. Their ids derive from the cause's
    /// message id and their position, so handling the same message again (a replay into a rebuilt
    /// store) emits the same ids and downstream deduplication drops the copies. A message with an
    /// origin of its own (`OutboundMessage.origin`) takes its id from that and counts in no
    /// position. A message without a trace of its own (`OutboundMessage.trace`) is published in
    /// `trace`.
    public static func append(
        _ messages: [OutboundMessage], causedBy cause: String, service: String, trace: TraceContext? = nil, in db: Database
    ) throws {
        guard !messages.isEmpty else { return }
        let now = MessageCoding.formatSortable(Date())
        // (the columns `OutboxEntry` reads; the trace as the JSON text a record column holds)
        let insert = try db.cachedStatement(
            sql: """
                INSERT OR IGNORE INTO outbox (message_id, message_type, correlation_id, causation_id, body, created_at, \
                partition_event, partition_recipient, trace) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
        for message in OutboundMessage.caused(by: cause, messages) {
            let origin = message.origin ?? OutboundMessage.Origin(cause: cause, index: 0)
            let trace = try (message.trace ?? trace).map { String(decoding: try MessageCoding.encoder.encode($0), as: UTF8.self) }
            try insert.execute(arguments: [
                messageID(service: service, cause: origin.cause, index: origin.index), message.type.rawValue, message.correlationID, cause,
                message.body, now, message.partitionKeys.event, message.partitionKeys.recipient, trace,
            ])
        }
    }

    static func messageID(service: String, cause: String, index: Int) -> String {
        let digest = SHA256.hash(data: Data("\(service)|\(cause)|\(index)".utf8))
        return "\(service)-" + digest.prefix(16).hexString
    }

    /// How many rows wait to be published, and when the oldest was written.
    static func backlog(in db: Database) throws -> (count: Int, oldest: Date?) {
        // (the partial index outbox_pending covers both)
        let pending = OutboxEntry.filter(Column("published_at") == nil)
        let count = try pending.fetchCount(db)
        let oldest = try String.fetchOne(db, pending.select(min(Column("created_at")))).flatMap(MessageCoding.parse)
        return (count, oldest)
    }

    /// Erasure: removes the published messages whose body names `registrationID` (or, for
    /// answers written before a registration existed, the event and reference), so the outbox
    /// keeps no copy of the registration's personal data. Unpublished ones are still owed to the
    /// broker: they are marked to be removed as soon as it confirms them (`markPublished`).
    public static func erase(registrationID: String, eventID: String, reference: String, in db: Database) throws {
        let naming = """
            (instr(body, CAST(? AS BLOB)) > 0 OR (instr(body, CAST(? AS BLOB)) > 0 AND instr(body, CAST(? AS BLOB)) > 0))
            """
        let arguments: StatementArguments = [
            registrationID, "\"reference\":" + (try Self.jsonString(reference)), "\"eventID\":" + (try Self.jsonString(eventID)),
        ]
        try db.execute(sql: "DELETE FROM outbox WHERE published_at IS NOT NULL AND \(naming)", arguments: arguments)
        try db.execute(sql: "UPDATE outbox SET erase_on_publish = 1 WHERE published_at IS NULL AND \(naming)", arguments: arguments)
    }

    /// A string as the message bodies write it (quoted and escaped).
    private static func jsonString(_ value: String) throws -> String {
        String(decoding: try MessageCoding.encode(value), as: UTF8.self)
    }

    /// The rows to publish next, in order; those held (`hold`) until after `now` wait.
    static func pending(limit: Int, now: Date = .distantFuture, in db: Database) throws -> [OutboxEntry] {
        try OutboxEntry.records(
            db,
            sql: """
                SELECT * FROM outbox WHERE published_at IS NULL AND (held_until IS NULL OR held_until <= ?) ORDER BY sequence LIMIT ?
                """, arguments: [MessageCoding.formatSortable(now), limit])
    }

    /// A row the broker refused to take (no permission for its routing key): the others go on
    /// without it, and it is tried again after `until`.
    static func hold(_ sequence: Int64, until: Date, reason: String, in db: Database) throws {
        try db.execute(
            sql: "UPDATE outbox SET held_until = ?, held_reason = ? WHERE sequence = ?",
            arguments: [MessageCoding.formatSortable(until), reason, sequence])
    }

    /// Records the broker's confirms; rows of an erased registration go at once. Returns how
    /// many went (the store then forgets them: `ServiceStore.forget`). Only rows still unpublished
    /// are ever marked for erasure, so looking among the confirmed ones finds them all.
    @discardableResult
    static func markPublished(_ sequences: [Int64], at time: Date, in db: Database) throws -> Int {
        let confirmed = OutboxEntry.filter(keys: sequences)
        try confirmed.updateAll(db, Column("published_at").set(to: MessageCoding.formatSortable(time)))
        return try confirmed.filter(Column("erase_on_publish") == 1).deleteAll(db)
    }

    static func removePublished(before cutoff: Date, in db: Database) throws {
        try OutboxEntry.filter(Column("published_at") != nil && Column("published_at") < MessageCoding.formatSortable(cutoff)).deleteAll(db)
    }

    /// Messages written and not yet confirmed by the broker, in the order they will be published.
    public static func unpublished(in db: Database) throws -> [OutboundMessage] {
        try pending(limit: Int(Int32.max), in: db).map {
            OutboundMessage(
                type: $0.messageType, body: $0.body, correlationID: $0.correlationID, partitionKeys: $0.partitionKeys, trace: $0.trace)
        }
    }

    /// How many messages are written and not yet confirmed by the broker.
}

/// Publishes pending outbox rows with confirms and marks them published; after a crash it
/// resumes with whatever was not marked (the broker may then get a message twice, with the same
/// message id). On graceful shutdown it keeps going until the outbox is empty. Each message
/// is a span (`<type> publish`, in the row's trace) whose context goes out in its headers.
public final class OutboxRelay: Service {
    private let store: ServiceStore
    private let connection: AMQPConnection
    private let configuration: ServiceConfiguration
    private let doorbell: Doorbell
    private let metrics: ServiceMetrics
    private let logger: Logger
    private let tracer: any Tracer
    private let batchSize = 256
    /// How long a message the broker refused waits before it is tried again.
    private let refusedHold: Double

    /// `refusedHold`: how long a message the broker refused (`ACCESS_REFUSED` for its routing
    /// key) is held before it is tried again; the others are published meanwhile.
    public init(
        store: ServiceStore, connection: AMQPConnection, configuration: ServiceConfiguration, doorbell: Doorbell, metrics: ServiceMetrics,
        logger: Logger, tracer: any Tracer = InstrumentationSystem.tracer, refusedHold: Double = 60
    ) {
        self.refusedHold = refusedHold
        self.store = store
        self.connection = connection
        self.configuration = configuration
        self.doorbell = doorbell
        self.metrics = metrics
        self.logger = logger
        self.tracer = tracer
    }

    public func run() async throws {
        var failures = 0
        var lastCleanup = Date.distantPast
        while true {
            let published: Int
            do {
                published = try await publishBatch()
                failures = 0
            } catch {
                failures += 1
                let delay = min(10, 0.2 * Double(1 << min(failures, 6)))
                logger.warning("outbox relay could not publish; retrying", metadata: ["error": "\(error)", "retry_in_s": "\(delay)"])
                try? await Task.sleep(for: .seconds(delay))
                if Task.isCancelled { return }
                continue
            }
            if published > 0 { continue }
            if Task.isShuttingDownGracefully || Task.isCancelled { return }
            if Date().timeIntervalSince(lastCleanup) > 600 {
                lastCleanup = Date()
                try? await removePublished(olderThan: 24 * 3600)
            }
            await doorbell.wait(timeout: .seconds(1))
        }
    }

    /// Publishes up to one batch; returns how many were confirmed or held.
    func publishBatch() async throws -> Int {
        let now = Date()
        let rows = try await store.database.read { db in try Outbox.pending(limit: self.batchSize, now: now, in: db) }
        guard !rows.isEmpty else { return 0 }
        let spans = rows.map { row in
            tracer.startMessagingSpan(
                "\(row.messageType.rawValue) publish", parent: row.trace?.serviceContext(tracer: tracer) ?? .topLevel, kind: .producer,
                operation: "send", destination: configuration.exchange, messageID: row.messageID, correlationID: row.correlationID)
        }
        let messages = zip(rows, spans).map { row, span in
            var message = OutgoingMessage.domain(
                type: row.messageType.rawValue, body: row.body, exchange: configuration.exchange, messageID: row.messageID,
                correlationID: row.correlationID, causationID: row.causationID ?? "", timestamp: row.createdAt,
                appID: configuration.serviceName,
                partitionKeys: row.partitionKeys)
            (TraceContext(span.context, tracer: tracer) ?? row.trace)?.write(into: &message.properties.headers)
            return message
        }
        var results = await connection.publish(messages)
        for (result, span) in zip(results, spans) {
            if case .failure(let error) = result { span.recordError(error) }
            span.end()
        }
        // The broker closes the channel on a message it refuses and fails all those sent after
        // it: each of those is tried again alone, so that only the refused ones wait.
        var held: [(row: OutboxEntry, reason: String)] = []
        for index in results.indices where Self.refusal(results[index]) != nil {
            let alone = await connection.publish([messages[index]]).first ?? .failure(.closed)
            if let refusal = Self.refusal(alone) {
                held.append((rows[index], "\(refusal)"))
            } else {
                results[index] = alone
                if case .failure = alone { break }
            }
        }
        var confirmed: [Int64] = []
        var firstError: AMQPError?
        for (row, result) in zip(rows, results) where !held.contains(where: { $0.row.sequence == row.sequence }) {
            switch result {
            case .success:
                if let sequence = row.sequence { confirmed.append(sequence) }
                metrics.published(row.messageType.rawValue)
            case .failure(let error):
                firstError = firstError ?? error
            }
        }
        if !held.isEmpty { try await hold(held) }
        if !confirmed.isEmpty {
            let confirmed = confirmed
            let erased = try await store.database.write { db in try Outbox.markPublished(confirmed, at: Date(), in: db) }
            if erased > 0 {
                do {
                    try await store.forget()
                } catch {
                    logger.error("erased, but the write-ahead log still holds the former rows", metadata: ["error": "\(error)"])
                }
            }
        }
        if let firstError { throw firstError }
        return confirmed.count + held.count
    }

    /// The broker's refusal of the message itself (no permission to publish its routing key),
    /// which trying again at once cannot change.
    private static func refusal(_ result: Result<Void, AMQPError>) -> AMQPError? {
        guard case .failure(let error) = result, case .channelClosedByBroker(.accessRefused, _) = error else { return nil }
        return error
    }

    /// Holds the messages the broker refused for `refusedHold`, telling on-call which and why.
    private func hold(_ held: [(row: OutboxEntry, reason: String)]) async throws {
        let until = Date().addingTimeInterval(refusedHold)
        try await store.database.write { db in
            for (row, reason) in held {
                if let sequence = row.sequence { try Outbox.hold(sequence, until: until, reason: reason, in: db) }
            }
        }
        for (row, reason) in held {
            metrics.refused(row.messageType.rawValue)
            logger.error(
                "the broker refused a message: it is held and tried again later, the others go on; check the service's broker permissions",
                metadata: [
                    "message.id": "\(row.messageID)", "message.type": "\(row.messageType.rawValue)", "error": "\(reason)",
                    "retry_in_s": "\(refusedHold)",
                ])
        }
    }

    private func removePublished(olderThan seconds: Double) async throws {
        try await store.database.write { db in try Outbox.removePublished(before: Date().addingTimeInterval(-seconds), in: db) }
    }
}
