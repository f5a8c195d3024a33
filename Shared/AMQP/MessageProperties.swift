import struct Foundation.Date

/// The basic-class properties of a message. `nil` means "not set".
public struct MessageProperties: Sendable, Hashable {
    public enum DeliveryMode: UInt8, Sendable {
        /// Kept in memory only; lost when the broker restarts.
        case transient = 1
        /// Written to disk on durable queues (and replicated on quorum queues).
        case persistent = 2
    }

    public var contentType: String?
    public var contentEncoding: String?
    public var headers: AMQPTable
    public var deliveryMode: DeliveryMode?
    public var priority: UInt8?
    public var correlationID: String?
    public var replyTo: String?
    /// Per-message TTL in milliseconds, as a string (the AMQP type).
    public var expiration: String?
    public var messageID: String?
    /// Whole seconds; sub-second precision is lost on the wire.
    public var timestamp: Date?
    public var type: String?
    /// If set, the broker checks it equals the connection's user name.
    public var userID: String?
    public var appID: String?
    public var clusterID: String?

    public init(
        contentType: String? = nil, contentEncoding: String? = nil, headers: AMQPTable = [:],
        deliveryMode: DeliveryMode? = nil, priority: UInt8? = nil, correlationID: String? = nil,
        replyTo: String? = nil, expiration: String? = nil, messageID: String? = nil,
        timestamp: Date? = nil, type: String? = nil, userID: String? = nil, appID: String? = nil,
        clusterID: String? = nil
    ) {
        self.contentType = contentType
        self.contentEncoding = contentEncoding
        self.headers = headers
        self.deliveryMode = deliveryMode
        self.priority = priority
        self.correlationID = correlationID
        self.replyTo = replyTo
        self.expiration = expiration
        self.messageID = messageID
        self.timestamp = timestamp
        self.type = type
        self.userID = userID
        self.appID = appID
        self.clusterID = clusterID
    }

    /// Persistent JSON: what domain messages use.
    public static func persistentJSON(messageID: String? = nil, type: String? = nil) -> MessageProperties {
        MessageProperties(contentType: "application/json", deliveryMode: .persistent, messageID: messageID, type: type)
    }
}
