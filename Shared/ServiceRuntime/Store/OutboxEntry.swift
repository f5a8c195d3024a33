import Foundation
import GRDB
import Messages

/// A message waiting to be published, or published (table `outbox`).
struct OutboxEntry: StoreRecord {
    static let databaseTableName = "outbox"

    /// The order of writing (autoincrement), which is the order of publishing.
    var sequence: Int64?
    var messageID: String
    var messageType: MessageType
    var correlationID: String?
    var causationID: String?
    var body: Data
    var createdAt: Date
    /// nil until the broker confirmed it.
    var publishedAt: Date?
    var partitionEvent: String?
    var partitionRecipient: String?
    /// The trace it is published in (headers `traceparent`, `tracestate`).
    var trace: TraceContext?

    enum CodingKeys: String, CodingKey {
        case sequence, messageID = "message_id", messageType = "message_type", correlationID = "correlation_id", causationID =
            "causation_id", body
        case createdAt = "created_at", publishedAt = "published_at", partitionEvent = "partition_event", partitionRecipient =
            "partition_recipient", trace
    }

    var partitionKeys: PartitionKeys { PartitionKeys(event: partitionEvent, recipient: partitionRecipient) }
}
