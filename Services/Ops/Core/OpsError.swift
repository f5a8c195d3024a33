import AMQP

/// What went wrong, sorted into the exit codes scripts rely on (sysexits.h values).
///
/// | code | meaning |
/// |---|---|
/// | 0 | done |
/// | 1 | done, but something needs attention (`topology verify` found drift; some messages failed) |
/// | 64 | wrong command line |
/// | 65 | invalid input: nothing was sent |
/// | 66 | a queue, exchange, message or file that does not exist |
/// | 69 | the broker cannot be reached |
/// | 77 | the broker refused: wrong credentials or missing permission |
/// | 75 | interrupted or lost the connection midway: safe to run again |
/// | 78 | the broker refused with PRECONDITION_FAILED (e.g. a queue declared with other arguments): running again will not help |
public enum OpsError: Error, CustomStringConvertible, Equatable {
    case usage(String)
    case invalidInput(String)
    case notFound(String)
    case unavailable(String)
    case permissionDenied(String)
    case interrupted(String)
    case conflict(String)
    case attention(String)

    public var exitCode: Int32 {
        switch self {
        case .usage: return 64
        case .invalidInput: return 65
        case .notFound: return 66
        case .unavailable: return 69
        case .permissionDenied: return 77
        case .interrupted: return 75
        case .conflict: return 78
        case .attention: return 1
        }
    }

    public var description: String {
        switch self {
        case .usage(let text), .invalidInput(let text), .notFound(let text), .unavailable(let text), .permissionDenied(let text),
            .interrupted(let text), .conflict(let text), .attention(let text):
            return text
        }
    }

    /// An error from the broker or the AMQP client, as an operator should read it.
    public static func from(_ error: any Error, doing what: String) -> OpsError {
        if let ops = error as? OpsError { return ops }
        guard let amqp = error as? AMQPError else { return .interrupted("\(what): \(error)") }
        switch amqp {
        case .invalidConfiguration(let text):
            return .usage("\(what): \(text)")
        case .unwritable:
            return .invalidInput("\(what): \(amqp)")
        case .connectionFailed, .tlsFailed:
            return .unavailable("\(what): \(amqp). Is the broker running, and is the URL (host, port, amqp/amqps) right?")
        case .connectionClosedByBroker(.accessRefused, _), .channelClosedByBroker(.accessRefused, _):
            return .permissionDenied(
                "\(what): \(amqp). Check the user name and password, "
                    + "and that the user has the permission this needs (deploy/rabbitmq/definitions.json)."
            )
        case .connectionClosedByBroker(.notAllowed, _):
            return .permissionDenied("\(what): \(amqp). The virtual host does not exist or the user may not use it.")
        case .connectionClosedByBroker(.preconditionFailed, _), .channelClosedByBroker(.preconditionFailed, _):
            return .conflict(
                "\(what): \(amqp). Running it again will not help: something on the broker conflicts with what was asked; "
                    + "for a queue or exchange declared with other arguments, `delegation-ops topology verify` says what differs.")
        case .channelClosedByBroker(.notFound, _):
            return .notFound("\(what): \(amqp). Run `delegation-ops topology verify` to see what is missing.")
        default:
            return .interrupted("\(what): \(amqp)")
        }
    }
}
