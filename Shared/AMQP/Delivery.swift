import struct Foundation.Data

/// Where a delivered message came from.
public struct Envelope: Sendable, Hashable {
    public var deliveryTag: UInt64
    /// True if the broker delivered this message before (to this or another consumer) without
    /// an ack: processing may have happened already.
    public var redelivered: Bool
    public var exchange: String
    public var routingKey: String
    public var consumerTag: String
}

/// A message received from a queue, to be settled exactly once with `ack`, `nack` or `reject`.
///
/// Settling is asynchronous: the call queues the frame for the connection's thread and returns at
/// once. If the connection was lost since the message arrived, the settlement is dropped (the
/// channel it belonged to no longer exists) and the broker delivers the message again with
/// `redelivered` set, which is why consumers deduplicate by message id.
public struct Delivery: Sendable {
    public let envelope: Envelope
    public let properties: MessageProperties
    public let body: Data
    let settlement: Settlement

    public var routingKey: String { envelope.routingKey }
    public var redelivered: Bool { envelope.redelivered }
    public var headers: AMQPTable { properties.headers }

    /// The decoded `x-death` header (empty if it was never dead-lettered).
    public var deaths: [DeathRecord] { DeathRecord.decode(from: properties.headers) }

    /// `x-delivery-count` from a quorum queue: how often it was delivered before (0 if absent).
    public var deliveryCount: Int64 { properties.headers["x-delivery-count"]?.intValue ?? 0 }

    /// Done with it: the broker forgets the message.
    public func ack() { settlement.settle(.ack) }

    /// Give it back: to the queue (`requeue: true`), or dead-letter/drop it (`false`).
    public func nack(requeue: Bool) { settlement.settle(.nack(requeue: requeue)) }

    /// As `nack` (the single-message form of the spec).
    public func reject(requeue: Bool) { settlement.settle(.reject(requeue: requeue)) }
}

/// How to settle a delivery, routed back to the channel it came on.
struct Settlement: Sendable {
    enum Kind: Sendable {
        case ack
        case nack(requeue: Bool)
        case reject(requeue: Bool)
    }

    let mailbox: Mailbox
    let channel: UInt16
    /// Identifies the channel instance; a settlement for an older instance is dropped.
    let epoch: UInt64
    let tag: UInt64

    func settle(_ kind: Kind) {
        let (channel, epoch, tag) = (self.channel, self.epoch, self.tag)
        mailbox.submit(urgent: false) { engine in engine.settle(channel: channel, epoch: epoch, tag: tag, kind) }
    }
}
