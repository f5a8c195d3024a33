import Foundation

/// What a notification is about.
public enum NotificationKind: String, Sendable, Codable, Hashable, CaseIterable {
    case accepted, waitlisted, rejected, cancelled, itineraryPlanned = "itinerary-planned", itineraryChanged = "itinerary-changed", digest
    /// Contract 1.5: a reminder of one item of the itinerary, sent a set time before it.
    case reminder
    /// Contract 1.6: to a delegation's lead, at once: some of its riders were not on board when
    /// their bus left (`boarding.missed`).
    case missingAtDeparture = "missing-at-departure"
}

/// A channel's name: `email`, `webhook`, `sms`, `zalo`, `wechat`, or another the notifications
/// service has registered. Contract 1.7 made it an open name (it was a closed list of `email` and
/// `webhook`): adding a channel changes no contract. Lowercase letters, digits and hyphens, 1 to 32
/// characters, starting with a letter.
public struct ChannelName: RawRepresentable, Sendable, Codable, Hashable, Comparable, CustomStringConvertible,
    ExpressibleByStringLiteral
{
    public let rawValue: String

    public init?(rawValue: String) {
        guard Self.isValid(rawValue) else { return nil }
        self.rawValue = rawValue
    }

    public init(stringLiteral value: String) { self.rawValue = value }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard Self.isValid(text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "'\(text)' is not a channel name (lowercase letters, digits, hyphens; at most 32)")
        }
        rawValue = text
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }

    public static func < (lhs: ChannelName, rhs: ChannelName) -> Bool { lhs.rawValue < rhs.rawValue }

    static func isValid(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, ("a"..."z").contains(first), text.unicodeScalars.count <= 32 else { return false }
        return text.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
    }

    public static let email: ChannelName = "email"
    public static let webhook: ChannelName = "webhook"
    public static let sms: ChannelName = "sms"
    public static let zalo: ChannelName = "zalo"
    public static let wechat: ChannelName = "wechat"
}

/// `notification.delivered`: a notification reached its channel (SMTP accepted it, the webhook
/// answered 2xx).
public struct NotificationDelivered: MessagePayload {
    public static let messageType = MessageType.notificationDelivered

    public var notificationID: String
    /// A digest of (recipient, kind, subject, version): the same key is never sent twice; it
    /// holds no address.
    public var idempotencyKey: String
    public var registrationID: String?
    public var kind: NotificationKind
    public var channel: ChannelName
    public var language: Language
    public var attempts: Int
    public var deliveredAt: Date

    public init(
        notificationID: String, idempotencyKey: String, registrationID: String?, kind: NotificationKind, channel: ChannelName,
        language: Language, attempts: Int, deliveredAt: Date
    ) {
        self.notificationID = notificationID
        self.idempotencyKey = idempotencyKey
        self.registrationID = registrationID
        self.kind = kind
        self.channel = channel
        self.language = language
        self.attempts = attempts
        self.deliveredAt = deliveredAt
    }
}

/// `notification.failed`: a notification could not be delivered on any channel.
public struct NotificationFailed: MessagePayload {
    public static let messageType = MessageType.notificationFailed

    public var notificationID: String
    public var idempotencyKey: String
    public var registrationID: String?
    public var kind: NotificationKind
    public var channel: ChannelName
    public var reason: String
    /// False if it gave up after retries on a transient error.
    public var permanent: Bool
    public var attempts: Int
    public var failedAt: Date

    public init(
        notificationID: String, idempotencyKey: String, registrationID: String?, kind: NotificationKind, channel: ChannelName,
        reason: String, permanent: Bool, attempts: Int, failedAt: Date
    ) {
        self.notificationID = notificationID
        self.idempotencyKey = idempotencyKey
        self.registrationID = registrationID
        self.kind = kind
        self.channel = channel
        self.reason = reason
        self.permanent = permanent
        self.attempts = attempts
        self.failedAt = failedAt
    }
}

/// `notification.resend-requested` (contract 1.4): the organisers ask for a notification to be
/// sent again, the same message to the same recipient on the same channels (published by the
/// console). Notifications queues a copy whose id is `copyID`; it is answered, like every
/// notification, by `notification.delivered` or `notification.failed` for that id. A request
/// for a notification notifications does not have, or of an erased registration, sends nothing.
public struct NotificationResendRequested: MessagePayload {
    public static let messageType = MessageType.notificationResendRequested

    /// The notification to send again (`notification.delivered`/`.failed`'s `notificationID`).
    public var notificationID: String
    public var registrationID: String
    public var eventID: String
    /// Names this request; the same request again queues nothing more.
    public var requestID: String
    /// Who asked (an account's name, not a person's contact details).
    public var requestedBy: String?
    public var requestedAt: Date?

    public init(
        notificationID: String, registrationID: String, eventID: String, requestID: String, requestedBy: String? = nil,
        requestedAt: Date? = nil
    ) {
        self.notificationID = notificationID
        self.registrationID = registrationID
        self.eventID = eventID
        self.requestID = requestID
        self.requestedBy = requestedBy
        self.requestedAt = requestedAt
    }

    /// The copy's notification id.
    public var copyID: String { "\(notificationID)-resend-\(requestID)" }
}
