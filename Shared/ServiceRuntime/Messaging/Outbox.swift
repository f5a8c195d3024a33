import AMQP
import Crypto
import Foundation
import GRDB
import Logging
import Messages
import ServiceLifecycle

/// The transactional outbox: messages a handler emits are rows written in the same transaction
/// as its other changes; `OutboxRelay` publishes them after the commit.
public enum Outbox {
    /// Appends `messages`, emitted while handling `cause`. Their ids derive from the cause's
    /// message id and their position, so handling the same message again (a replay into a rebuilt
    /// store) emits the same ids and downstream deduplication drops the copies.
    public static func append(_ messages: [OutboundMessage], causedBy cause: String, service: String, in db: Database) throws {
        let now = MessageCoding.format(Date())
        for (index, message) in messages.enumerated() {
            try db.execute(
                sql: """
                    INSERT OR IGNORE INTO outbox (message_id, message_type, correlation_id, causation_id, body, created_at, partition_event, partition_recipient)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    messageID(service: service, cause: cause, index: index), message.type.rawValue, message.correlationID, cause, message.body, now,
                    message.partitionKeys.event, message.partitionKeys.recipient,
                ])
        }
    }

    static func messageID(service: String, cause: String, index: Int) -> String {
        let digest = SHA256.hash(data: Data("\(service)|\(cause)|\(index)".utf8))
        return "\(service)-" + digest.prefix(16).hexString
    }

    struct Row: Sendable {
        let sequence: Int64
        let messageID: String
        let type: String
        let correlationID: String?
        let causationID: String?
        let body: Data
        let createdAt: String
        let partitionKeys: PartitionKeys
    }

    static func pending(limit: Int, in db: Database) throws -> [Row] {
        try GRDB.Row.fetchAll(
            db,
            sql: """
                SELECT sequence, message_id, message_type, correlation_id, causation_id, body, created_at, partition_event, partition_recipient
                FROM outbox WHERE published_at IS NULL ORDER BY sequence LIMIT ?
                """,
            arguments: [limit]
        ).map { row in
            Row(
                sequence: row[0], messageID: row[1], type: row[2], correlationID: row[3], causationID: row[4], body: row[5], createdAt: row[6],
                partitionKeys: PartitionKeys(event: row[7], recipient: row[8]))
        }
    }
}

/// Publishes pending outbox rows with confirms and marks them published; after a crash it
/// resumes with whatever was not marked (the broker may then get a message twice, with the same
/// message id). On graceful shutdown it keeps going until the outbox is empty.
public final class OutboxRelay: Service {
    private let store: ServiceStore
    private let connection: AMQPConnection
    private let configuration: ServiceConfiguration
    private let doorbell: Doorbell
    private let metrics: ServiceMetrics
    private let logger: Logger
    private let batchSize = 256

    public init(store: ServiceStore, connection: AMQPConnection, configuration: ServiceConfiguration, doorbell: Doorbell, metrics: ServiceMetrics, logger: Logger) {
        self.store = store
        self.connection = connection
        self.configuration = configuration
        self.doorbell = doorbell
        self.metrics = metrics
        self.logger = logger
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

    /// Publishes up to one batch; returns how many were confirmed.
    func publishBatch() async throws -> Int {
        let rows = try await store.database.read { db in try Outbox.pending(limit: self.batchSize, in: db) }
        metrics.outboxBacklog(rows.count)
        guard !rows.isEmpty else { return 0 }
        let messages = rows.map { row in
            OutgoingMessage.domain(
                type: row.type, body: row.body, exchange: configuration.exchange, messageID: row.messageID, correlationID: row.correlationID,
                causationID: row.causationID ?? "", timestamp: MessageCoding.parse(row.createdAt) ?? Date(), appID: configuration.serviceName,
                partitionKeys: row.partitionKeys)
        }
        let results = await connection.publish(messages)
        var confirmed: [Int64] = []
        var firstError: AMQPError?
        for (row, result) in zip(rows, results) {
            switch result {
            case .success:
                confirmed.append(row.sequence)
                metrics.published(row.type)
            case .failure(let error):
                firstError = firstError ?? error
            }
        }
        if !confirmed.isEmpty {
            let now = MessageCoding.format(Date())
            let confirmed = confirmed
            try await store.database.write { db in
                try db.execute(sql: "UPDATE outbox SET published_at = ? WHERE sequence IN (\(confirmed.map(String.init).joined(separator: ",")))", arguments: [now])
            }
        }
        if let firstError { throw firstError }
        return confirmed.count
    }

    private func removePublished(olderThan seconds: Double) async throws {
        let cutoff = MessageCoding.format(Date().addingTimeInterval(-seconds))
        try await store.database.write { db in
            try db.execute(sql: "DELETE FROM outbox WHERE published_at IS NOT NULL AND published_at < ?", arguments: [cutoff])
        }
    }
}
