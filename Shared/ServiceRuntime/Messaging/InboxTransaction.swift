import Foundation
import GRDB
import Messages

/// The runtime's part of taking one message inside the store's write transaction: skip what
/// was parked or applied before, record the message in the inbox, run its route, write what it
/// emits to the outbox, and record what is parked. The pipeline runs it for every delivery;
/// in-process tests run it the same way, without a broker.
public struct InboxTransaction: Sendable {
    /// The service (kind), from which outgoing message ids derive.
    public let service: String
    /// Attempts after which a transient failure parks the message (`retries-exhausted`).
    public let attempts: Int

    public init(service: String, attempts: Int) {
        self.service = service
        self.attempts = attempts
    }

    /// What became of a message.
    public enum Outcome: Sendable, Equatable {
        /// Applied; these were written to the outbox.
        case handled([OutboundMessage])
        /// Applied before, with the same body: skipped.
        case duplicate
        /// Parked before, its copy confirmed: acked without another copy.
        case alreadyParked
        /// To be tried again after a delay.
        case retry(String)
        /// To be copied to the dead-letter queue; the store has a record under this id and digest.
        case park(FailureKind, String, messageID: String, digest: String)
    }

    /// Applies `message` (whose body has `digest`) in a savepoint of the caller's transaction;
    /// what it emits is published in `trace` (the handling span), else in the message's own.
    /// Throws only when the store itself cannot take the write (`StoreUnavailable`).
    public func apply(
        _ message: DecodedMessage, digest: String, retriedByOps: Bool = false, trace: TraceContext? = nil, in db: Database
    ) throws -> Outcome {
        let metadata = message.metadata
        if !retriedByOps, let parked = try Inbox.parked(metadata.messageID, digest: digest, in: db) {
            return parked.copied ? .alreadyParked : .park(parked.kind, parked.reason, messageID: metadata.messageID, digest: digest)
        }
        var outcome = Outcome.duplicate
        do {
            try db.inSavepoint {
                switch try Inbox.seen(metadata.messageID, digest: digest, in: db) {
                case .duplicate:
                    return .commit
                case .conflict(let previous):
                    let reason =
                        "message id '\(metadata.messageID)' was applied before with another body "
                        + "(sha256 \(previous.prefix(12))…, this one \(digest.prefix(12))…); "
                        + "this copy was not applied: publish a changed message with a new message id"
                    outcome = .park(.conflictingDuplicate, reason, messageID: metadata.messageID, digest: digest)
                    return .commit
                case .new:
                    break
                }
                try Inbox.record(metadata, digest: digest, in: db)
                let outgoing = try message.handle(db)
                try Outbox.append(outgoing, causedBy: metadata.messageID, service: service, trace: trace ?? metadata.trace, in: db)
                outcome = .handled(outgoing)
                return .commit
            }
        } catch let error as DatabaseError {
            if let unavailable = StoreUnavailable.classify(error) { throw unavailable }
            outcome = retryOrGiveUp(metadata, digest, "\(error)")
        } catch HandlerFailure.permanent(let reason) {
            outcome = .park(.permanent, reason, messageID: metadata.messageID, digest: digest)
        } catch HandlerFailure.transient(let reason) {
            outcome = retryOrGiveUp(metadata, digest, reason)
        } catch {
            outcome = retryOrGiveUp(metadata, digest, "\(error)")
        }
        if case .park(let kind, let reason, let messageID, let digest) = outcome {
            try Inbox.recordParking(messageID, digest: digest, type: metadata.type.rawValue, kind: kind, reason: reason, at: Date(), in: db)
        }
        return outcome
    }

    /// Records a message that can never be processed (found before the transaction) as parked,
    /// with the answers to its sender in the outbox; a copy parked before is not parked again.
    public func park(
        messageID: String, digest: String, type: String, kind: FailureKind, reason: String, answers: [OutboundMessage],
        retriedByOps: Bool = false, trace: TraceContext? = nil,
        in db: Database
    ) throws -> Outcome {
        if !retriedByOps, let parked = try Inbox.parked(messageID, digest: digest, in: db), parked.copied {
            return .alreadyParked
        }
        try Inbox.recordParking(messageID, digest: digest, type: type, kind: kind, reason: reason, at: Date(), in: db)
        try Outbox.append(answers, causedBy: messageID, service: service, trace: trace, in: db)
        return .park(kind, reason, messageID: messageID, digest: digest)
    }

    private func retryOrGiveUp(_ metadata: MessageMetadata, _ digest: String, _ reason: String) -> Outcome {
        guard metadata.attempt < attempts else {
            return .park(
                .retriesExhausted, "gave up after \(metadata.attempt) attempts; last failure: \(reason)", messageID: metadata.messageID,
                digest: digest)
        }
        return .retry(reason)
    }
}
