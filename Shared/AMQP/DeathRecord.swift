import struct Foundation.Date

/// One entry of the `x-death` header RabbitMQ adds when it dead-letters a message: one per
/// (queue, reason), newest first, with how often it happened.
public struct DeathRecord: Sendable, Hashable {
    public enum Reason: Sendable, Hashable {
        /// Rejected or nacked with `requeue=false`.
        case rejected
        /// Its TTL ran out.
        case expired
        /// Dropped from the head of a queue over its length limit.
        case maxLength
        /// Delivered more often than the quorum queue's `x-delivery-limit`.
        case deliveryLimit
        case other(String)

        init(_ text: String) {
            switch text {
            case "rejected": self = .rejected
            case "expired": self = .expired
            case "maxlen": self = .maxLength
            case "delivery_limit": self = .deliveryLimit
            default: self = .other(text)
            }
        }

        /// The broker's spelling (`rejected`, `expired`, `maxlen`, `delivery_limit`).
        public var text: String {
            switch self {
            case .rejected: return "rejected"
            case .expired: return "expired"
            case .maxLength: return "maxlen"
            case .deliveryLimit: return "delivery_limit"
            case .other(let t): return t
            }
        }
    }

    /// The queue the message was dead-lettered from.
    public var queue: String
    public var reason: Reason
    public var count: Int64
    /// The exchange the message had been published to before.
    public var exchange: String
    public var routingKeys: [String]
    /// When it last happened (whole seconds).
    public var time: Date?
    /// The per-message TTL it had, if any.
    public var originalExpiration: String?

    public init(
        queue: String, reason: Reason, count: Int64, exchange: String, routingKeys: [String], time: Date?, originalExpiration: String? = nil
    ) {
        self.queue = queue
        self.reason = reason
        self.count = count
        self.exchange = exchange
        self.routingKeys = routingKeys
        self.time = time
        self.originalExpiration = originalExpiration
    }

    /// Decodes `x-death` from message headers; entries that are not tables are skipped.
    public static func decode(from headers: AMQPTable) -> [DeathRecord] {
        guard let entries = headers["x-death"]?.arrayValue else { return [] }
        return entries.compactMap { value in
            guard let table = value.tableValue else { return nil }
            return DeathRecord(
                queue: table["queue"]?.stringValue ?? "",
                reason: Reason(table["reason"]?.stringValue ?? ""),
                count: table["count"]?.intValue ?? 1,
                exchange: table["exchange"]?.stringValue ?? "",
                routingKeys: table["routing-keys"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                time: table["time"]?.dateValue,
                originalExpiration: table["original-expiration"]?.stringValue
            )
        }
    }
}
