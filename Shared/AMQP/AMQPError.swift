/// Everything that can go wrong talking to the broker, with the broker's own reply code and
/// text where it sent one.
///
/// `description` is written for an operator: it names the AMQP reply (`ACCESS_REFUSED (403)`),
/// what was being done and what to check.
public enum AMQPError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The connection URL or a setting is malformed.
    case invalidConfiguration(String)
    /// The TCP (or TLS) connection could not be made: refused, unreachable, timed out.
    case connectionFailed(endpoint: String, reason: String)
    /// TLS failed: the handshake, or the broker's certificate did not verify.
    case tlsFailed(endpoint: String, reason: String)
    /// The broker closed the connection (`connection.close`): bad credentials (403), unknown
    /// vhost (530), an operator closing it (320), and so on.
    case connectionClosedByBroker(ReplyCode, text: String)
    /// The broker closed a channel (`channel.close`): a missing queue or exchange (404),
    /// different arguments on a re-declare (406), no permission (403).
    case channelClosedByBroker(ReplyCode, text: String)
    /// The connection broke without a word from the broker: socket error, missed heartbeats,
    /// or an I/O call that stalled past its deadline.
    case connectionLost(String)
    /// An operation did not finish within its deadline.
    case timeout(operation: String, seconds: Double)
    /// The broker refused a published message (`basic.nack`).
    case nacked(exchange: String, routingKey: String)
    /// A mandatory message could not be routed to any queue (`basic.return`).
    case unroutable(exchange: String, routingKey: String, ReplyCode, text: String)
    /// The broker cancelled the consumer, e.g. because its queue was deleted.
    case consumerCancelled(queue: String)
    /// The connection was closed by this process; nothing more can be done with it.
    case closed
    /// A librabbitmq call failed for a reason that is none of the above.
    case library(operation: String, status: Int32, message: String)
    /// A message the client could not put on the wire (its properties do not encode in one
    /// frame): nothing of it was written, and writing it again cannot succeed.
    case unwritable(exchange: String, routingKey: String, reason: String)

    /// The AMQP reply code the broker sent, if this error carries one.
    public var replyCode: ReplyCode? {
        switch self {
        case .connectionClosedByBroker(let code, _), .channelClosedByBroker(let code, _),
            .unroutable(_, _, let code, _):
            return code
        default:
            return nil
        }
    }

    /// Whether retrying later, on the same or a new connection, may succeed.
    public var isTransient: Bool {
        switch self {
        case .connectionFailed, .connectionLost, .timeout, .nacked, .closed:
            return true
        case .connectionClosedByBroker(let code, _):
            return code == .connectionForced || code == .internalError
        case .channelClosedByBroker(let code, _):
            return code == .resourceLocked
        case .invalidConfiguration, .tlsFailed, .unroutable, .consumerCancelled, .library, .unwritable:
            return false
        }
    }

    public var description: String {
        switch self {
        case .invalidConfiguration(let text):
            return "invalid AMQP configuration: \(text)"
        case .connectionFailed(let endpoint, let reason):
            return "cannot connect to \(endpoint): \(reason)"
        case .tlsFailed(let endpoint, let reason):
            return "TLS to \(endpoint) failed: \(reason)"
        case .connectionClosedByBroker(let code, let text):
            return "the broker closed the connection: \(code) \(text)"
        case .channelClosedByBroker(let code, let text):
            return "the broker closed the channel: \(code) \(text)"
        case .connectionLost(let reason):
            return "connection to the broker lost: \(reason)"
        case .timeout(let operation, let seconds):
            return "\(operation) did not finish within \(seconds) s"
        case .nacked(let exchange, let routingKey):
            return "the broker refused (nacked) a message to exchange '\(exchange)' with routing key '\(routingKey)'"
        case .unroutable(let exchange, let routingKey, let code, let text):
            return "no queue is bound for routing key '\(routingKey)' on exchange '\(exchange)': \(code) \(text)"
        case .consumerCancelled(let queue):
            return "the broker cancelled the consumer of queue '\(queue)' (was the queue deleted?)"
        case .closed:
            return "the AMQP connection is closed"
        case .library(let operation, let status, let message):
            return "\(operation) failed: \(message) (librabbitmq status \(status))"
        case .unwritable(let exchange, let routingKey, let reason):
            return "cannot publish to '\(exchange)' with key '\(routingKey)': \(reason)"
        }
    }
}

/// AMQP 0-9-1 reply codes (the spec's constants, as RabbitMQ uses them).
public struct ReplyCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let replySuccess = ReplyCode(rawValue: 200)
    public static let contentTooLarge = ReplyCode(rawValue: 311)
    public static let noRoute = ReplyCode(rawValue: 312)
    public static let noConsumers = ReplyCode(rawValue: 313)
    public static let connectionForced = ReplyCode(rawValue: 320)
    public static let invalidPath = ReplyCode(rawValue: 402)
    public static let accessRefused = ReplyCode(rawValue: 403)
    public static let notFound = ReplyCode(rawValue: 404)
    public static let resourceLocked = ReplyCode(rawValue: 405)
    public static let preconditionFailed = ReplyCode(rawValue: 406)
    public static let frameError = ReplyCode(rawValue: 501)
    public static let syntaxError = ReplyCode(rawValue: 502)
    public static let commandInvalid = ReplyCode(rawValue: 503)
    public static let channelError = ReplyCode(rawValue: 504)
    public static let unexpectedFrame = ReplyCode(rawValue: 505)
    public static let resourceError = ReplyCode(rawValue: 506)
    public static let notAllowed = ReplyCode(rawValue: 530)
    public static let notImplemented = ReplyCode(rawValue: 540)
    public static let internalError = ReplyCode(rawValue: 541)

    /// The spec's name, e.g. `ACCESS_REFUSED`.
    public var name: String {
        switch rawValue {
        case 200: return "REPLY_SUCCESS"
        case 311: return "CONTENT_TOO_LARGE"
        case 312: return "NO_ROUTE"
        case 313: return "NO_CONSUMERS"
        case 320: return "CONNECTION_FORCED"
        case 402: return "INVALID_PATH"
        case 403: return "ACCESS_REFUSED"
        case 404: return "NOT_FOUND"
        case 405: return "RESOURCE_LOCKED"
        case 406: return "PRECONDITION_FAILED"
        case 501: return "FRAME_ERROR"
        case 502: return "SYNTAX_ERROR"
        case 503: return "COMMAND_INVALID"
        case 504: return "CHANNEL_ERROR"
        case 505: return "UNEXPECTED_FRAME"
        case 506: return "RESOURCE_ERROR"
        case 530: return "NOT_ALLOWED"
        case 540: return "NOT_IMPLEMENTED"
        case 541: return "INTERNAL_ERROR"
        default: return "REPLY"
        }
    }

    public var description: String { "\(name) (\(rawValue))" }
}
