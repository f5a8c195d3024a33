import Foundation
import GRDB
import Messages
import ServiceRuntime

/// One notification: to one recipient, of one kind, about one thing, at one version (table
/// `notifications`).
public struct NotificationRecord: StoreRecord, Equatable {
    public static let databaseTableName = "notifications"

    public enum Status: String, Sendable, Codable {
        case pending, sending, sent, failed, cancelled
    }

    public var id: String
    public var idempotencyKey: String
    public var registrationID: String?
    public var eventID: String?
    public var kind: NotificationKind
    public var recipient: Recipient
    public var timeZone: String
    public var urgent: Bool
    public var content: NotificationContent
    public var channels: [ChannelName]
    public var channelIndex: Int
    public var attempts: Int
    public var totalAttempts: Int
    public var status: Status
    public var dueAt: Date
    public var createdAt: Date
    public var lastError: String?
    public var sentChannel: ChannelName?
    /// The trace of the message that queued it: its delivery is a span of that trace.
    public var trace: TraceContext?

    public var channel: ChannelName? { channelIndex < channels.count ? channels[channelIndex] : nil }

    public init(
        id: String, idempotencyKey: String, registrationID: String?, eventID: String?, kind: NotificationKind, recipient: Recipient,
        timeZone: String,
        urgent: Bool, content: NotificationContent, channels: [ChannelName], channelIndex: Int, attempts: Int, totalAttempts: Int,
        status: Status, dueAt: Date, createdAt: Date, lastError: String? = nil, sentChannel: ChannelName? = nil,
        trace: TraceContext? = nil
    ) {
        self.id = id
        self.idempotencyKey = idempotencyKey
        self.registrationID = registrationID
        self.eventID = eventID
        self.kind = kind
        self.recipient = recipient
        self.timeZone = timeZone
        self.urgent = urgent
        self.content = content
        self.channels = channels
        self.channelIndex = channelIndex
        self.attempts = attempts
        self.totalAttempts = totalAttempts
        self.status = status
        self.dueAt = dueAt
        self.createdAt = createdAt
        self.lastError = lastError
        self.sentChannel = sentChannel
        self.trace = trace
    }

    enum CodingKeys: String, CodingKey {
        case id, idempotencyKey = "idempotency_key", registrationID = "registration_id", eventID = "event_id", kind, recipient
        case timeZone = "time_zone", urgent, content, channels, channelIndex = "channel_index", attempts, totalAttempts = "total_attempts",
            status
        case dueAt = "due_at", createdAt = "created_at", lastError = "last_error", sentChannel = "sent_channel", trace
    }

    /// Columns for queries, derived: the address (lower case) to find a recipient's
    /// notifications, the channel it waits for (each channel's worker finds its own work), and
    /// when it was last written.
    enum DerivedKeys: String, CodingKey {
        case recipientEmail = "recipient_email", channel, updatedAt = "updated_at"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(idempotencyKey, forKey: .idempotencyKey)
        try container.encode(registrationID, forKey: .registrationID)
        try container.encode(eventID, forKey: .eventID)
        try container.encode(kind, forKey: .kind)
        try container.encode(recipient, forKey: .recipient)
        try container.encode(timeZone, forKey: .timeZone)
        try container.encode(urgent, forKey: .urgent)
        try container.encode(content, forKey: .content)
        try container.encode(channels, forKey: .channels)
        try container.encode(channelIndex, forKey: .channelIndex)
        try container.encode(attempts, forKey: .attempts)
        try container.encode(totalAttempts, forKey: .totalAttempts)
        try container.encode(status, forKey: .status)
        try container.encode(dueAt, forKey: .dueAt)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(lastError, forKey: .lastError)
        try container.encode(sentChannel, forKey: .sentChannel)
        try container.encode(trace, forKey: .trace)
        var derived = encoder.container(keyedBy: DerivedKeys.self)
        try derived.encode(recipient.email.lowercased(), forKey: .recipientEmail)
        try derived.encode(channel, forKey: .channel)
        try derived.encode(Date(), forKey: .updatedAt)
    }
}
