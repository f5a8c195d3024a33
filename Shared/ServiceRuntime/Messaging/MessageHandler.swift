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

    public init(type: MessageType, payload: any MessagePayload, messageID: String, correlationID: String?, timestamp: Date?, appID: String?, attempt: Int) {
        self.type = type
        self.payload = payload
        self.messageID = messageID
        self.correlationID = correlationID
        self.timestamp = timestamp
        self.appID = appID
        self.attempt = attempt
    }
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
