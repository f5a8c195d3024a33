import Foundation
import Messages

/// What the runtime knows of a message besides its body.
public struct MessageMetadata: Sendable, Equatable {
    public let type: MessageType
    /// The AMQP `message_id`, or, if the sender set none, a hash of type and body.
    public let messageID: String
    public let correlationID: String?
    public let timestamp: Date?
    public let appID: String?
    /// 1 on first delivery; raised by each retry through a delay queue.
    public let attempt: Int
    /// When this service first received the message: kept across retries, returns and the ops
    /// tool's retries (header `x-received-at`), never taken from what the sender claims.
    public let receivedAt: Date
    /// The trace this service handles it in (its span, or the sender's context when this
    /// service traces nothing): work done later because of it (a plan, a notification) keeps it.
    public let trace: TraceContext?

    public init(
        type: MessageType, messageID: String, correlationID: String? = nil, timestamp: Date? = nil, appID: String? = nil, attempt: Int = 1,
        receivedAt: Date, trace: TraceContext? = nil
    ) {
        self.type = type
        self.messageID = messageID
        self.correlationID = correlationID
        self.timestamp = timestamp
        self.appID = appID
        self.attempt = attempt
        self.receivedAt = receivedAt
        self.trace = trace
    }

    /// The id its answers carry in `correlation_id`: the sender's, else the message's own.
    public var answerCorrelationID: String { correlationID ?? messageID }
}

/// A message as its handler sees it: the decoded body, typed, and its metadata.
public struct Message<Payload: MessagePayload>: Sendable {
    public let payload: Payload
    public let metadata: MessageMetadata

    public init(_ payload: Payload, metadata: MessageMetadata) {
        self.payload = payload
        self.metadata = metadata
    }

    public var messageID: String { metadata.messageID }
    public var correlationID: String? { metadata.correlationID }
    public var receivedAt: Date { metadata.receivedAt }
    public var attempt: Int { metadata.attempt }
    /// The id answers to this message carry (`MessageMetadata.answerCorrelationID`).
    public var answerCorrelationID: String { metadata.answerCorrelationID }
}

/// A message of a type the service consumes whose body could not be read (not JSON, a key
/// given twice, a field of the wrong type or value): what a route may answer it from.
public struct UnreadableMessage: Sendable {
    public let type: MessageType
    /// The body as JSON bytes (decompressed), which may still yield who sent it.
    public let body: Data
    public let problem: MessageDecodingError
    public let messageID: String
    public let correlationID: String?
    public let receivedAt: Date

    public init(
        type: MessageType, body: Data, problem: MessageDecodingError, messageID: String, correlationID: String? = nil, receivedAt: Date
    ) {
        self.type = type
        self.body = body
        self.problem = problem
        self.messageID = messageID
        self.correlationID = correlationID
        self.receivedAt = receivedAt
    }

    public var answerCorrelationID: String { correlationID ?? messageID }
}

/// A message a handler emits; written to the outbox in the handler's transaction and published
/// with confirms after it commits.
public struct OutboundMessage: Sendable, Equatable {
    public let type: MessageType
    public let body: Data
    public let correlationID: String?
    /// The payload's, for the headers sharded services hash.
    public let partitionKeys: PartitionKeys
    /// The trace it belongs to, when not that of the message being handled (work done later:
    /// a delegation's itinerary, a notification's outcome).
    public var trace: TraceContext?
    /// What its message id derives from, when not the message being handled and its position
    /// among the messages emitted (`Outbox.append`).
    public var origin: Origin?

    /// A message id's source: a cause and a position.
    public struct Origin: Sendable, Hashable {
        public var cause: String
        public var index: Int

        public init(cause: String, index: Int) {
            self.cause = cause
            self.index = index
        }
    }

    /// `messages`, each without an origin of its own given `cause` at its position among those:
    /// the ids they would have as the outputs of handling `cause` itself (a route that handles,
    /// from a replay, a message the archive kept in another form).
    public static func caused(by cause: String, _ messages: [OutboundMessage]) -> [OutboundMessage] {
        var position = 0
        return messages.map { message in
            guard message.origin == nil else { return message }
            var assigned = message
            assigned.origin = Origin(cause: cause, index: position)
            position += 1
            return assigned
        }
    }

    public init<T: MessagePayload>(_ payload: T, correlationID: String?, trace: TraceContext? = nil) throws {
        self.type = T.messageType
        self.body = try MessageCoding.encode(payload)
        self.correlationID = correlationID
        self.partitionKeys = payload.partitionKeys
        self.trace = trace
    }

    init(type: MessageType, body: Data, correlationID: String?, partitionKeys: PartitionKeys, trace: TraceContext? = nil) {
        self.type = type
        self.body = body
        self.correlationID = correlationID
        self.partitionKeys = partitionKeys
        self.trace = trace
    }

    /// The payload, decoded again (for tests and tools).
    public func decode<T: MessagePayload>(_ type: T.Type) throws -> T {
        try MessageCoding.decode(type, from: body)
    }
}

/// How a handler says a message failed. Any other error counts as transient.
public enum HandlerFailure: Error, Sendable, CustomStringConvertible {
    /// Worth retrying later: the message comes back after a delay.
    case transient(String)
    /// Will never succeed: the message is parked with the reason.
    case permanent(String)

    public var description: String {
        switch self {
        case .transient(let reason): return "transient failure: \(reason)"
        case .permanent(let reason): return "permanent failure: \(reason)"
        }
    }
}
