import Foundation
import GRDB
import ServiceRuntime

/// A `registration.cancel-requested` for a reference not (yet) known (table
/// `pending_cancellations`): it waits for its submission until `expiresAt`.
public struct PendingCancellation: StoreRecord, Equatable {
    public static let databaseTableName = "pending_cancellations"

    public var eventID: String
    public var reference: String
    /// The request's message id, and the id its answer carries.
    public var messageID: String
    public var correlationID: String
    public var reason: String?
    public var receivedAt: Date
    /// When it is answered with `unknown_reference` if no submission came.
    public var expiresAt: Date

    public init(
        eventID: String, reference: String, messageID: String, correlationID: String, reason: String?, receivedAt: Date, expiresAt: Date
    ) {
        self.eventID = eventID
        self.reference = reference
        self.messageID = messageID
        self.correlationID = correlationID
        self.reason = reason
        self.receivedAt = receivedAt
        self.expiresAt = expiresAt
    }

    enum CodingKeys: String, CodingKey {
        case eventID = "event_id", reference, messageID = "message_id", correlationID = "correlation_id", reason, receivedAt = "received_at"
        case expiresAt = "expires_at"
    }
}
