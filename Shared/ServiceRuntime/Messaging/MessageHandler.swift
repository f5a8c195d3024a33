import Foundation
import GRDB
import Messages

/// A message as a handler sees it: the decoded body and its metadata.
public struct IncomingMessage: Sendable {
    public let type: MessageType
    public let payload: any MessagePayload
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

    public init(
        type: MessageType, payload: any MessagePayload, messageID: String, correlationID: String? = nil, timestamp: Date? = nil,
        appID: String? = nil, attempt: Int = 1, receivedAt: Date
    ) {
        self.type = type
        self.payload = payload
        self.messageID = messageID
        self.correlationID = correlationID
        self.timestamp = timestamp
        self.appID = appID
        self.attempt = attempt
        self.receivedAt = receivedAt
    }

    /// The id its answers carry in `correlation_id`: the sender's, else the message's own.
    public var answerCorrelationID: String { correlationID ?? messageID }
}

/// A message of a type the service consumes whose body could not be read (not JSON, a key
/// given twice, a field of the wrong type or value): what a handler may answer it from.
public struct UnreadableMessage: Sendable {
    public let type: MessageType
    /// The body as JSON bytes (decompressed), which may still yield who sent it.
    public let body: Data
    public let problem: MessageDecodingError
    public let messageID: String
    public let correlationID: String?
    public let receivedAt: Date

    public init(type: MessageType, body: Data, problem: MessageDecodingError, messageID: String, correlationID: String? = nil, receivedAt: Date) {
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

    public init<T: MessagePayload>(_ payload: T, correlationID: String?) throws {
        self.type = T.messageType
        self.body = try MessageCoding.encode(payload)
        self.correlationID = correlationID
    }

    /// The payload, decoded again (for tests and tools).
    public func decode<T: MessagePayload>(_ type: T.Type) throws -> T {
        try MessageCoding.decode(type, from: body)
    }
}

/// A service's business logic for the messages it consumes.
public protocol MessageHandler: Sendable {
    /// The message types the service's inbox is bound to.
    var consumes: [MessageType] { get }

    /// Applies one message inside the store's write transaction, once per message id (the
    /// runtime skips duplicates), and returns the messages to emit.
    ///
    /// Throw `HandlerFailure.transient` for a failure worth retrying later (the message comes
    /// back after a delay), `.permanent` for one that will never succeed (it is parked in the
    /// dead-letter queue with the reason). Any other error counts as transient. Either way the
    /// transaction's changes for this message are rolled back.
    func handle(_ message: IncomingMessage, in db: Database) throws -> [OutboundMessage]

    /// Answers to a message whose body could not be read, so that its sender hears why. The
    /// message is parked for ops either way; the answers are written to the outbox in the same
    /// transaction that records the parking. Return none when the body does not say who sent
    /// it (the default).
    func answers(to message: UnreadableMessage) -> [OutboundMessage]
}

extension MessageHandler {
    public func answers(to message: UnreadableMessage) -> [OutboundMessage] { [] }
}

public enum HandlerFailure: Error, Sendable, CustomStringConvertible {
    case transient(String)
    case permanent(String)

    public var description: String {
        switch self {
        case .transient(let reason): return "transient failure: \(reason)"
        case .permanent(let reason): return "permanent failure: \(reason)"
        }
    }
}
