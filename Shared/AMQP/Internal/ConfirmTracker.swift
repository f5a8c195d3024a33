import DequeModule

import struct Foundation.Data

/// A message handed to `publish`, held until the broker confirms it (or it fails).
///
/// A class, so that moving it between the queues below costs one reference count.
/// `@unchecked Sendable`: built by the publishing task and handed over once to the connection
/// thread, which alone mutates `returned` and `abandoned` afterwards.
final class PendingPublish: @unchecked Sendable {
    let exchange: String
    let routingKey: String
    let mandatory: Bool
    let properties: MessageProperties
    let body: Data
    /// Monotonic nanoseconds after which the caller gets `.timeout`.
    let deadline: UInt64
    /// Told the outcome exactly once, when the message is settled or abandoned.
    let completion: PublishCompletion
    /// Set when the broker returned this mandatory message as unroutable.
    var returned: AMQPError?
    /// Its deadline passed and the caller got `.timeout`; a late confirm is ignored and the
    /// message is never published again.
    var abandoned = false

    init(
        exchange: String, routingKey: String, mandatory: Bool, properties: MessageProperties, body: Data, deadline: UInt64,
        completion: PublishCompletion
    ) {
        self.exchange = exchange
        self.routingKey = routingKey
        self.mandatory = mandatory
        self.properties = properties
        self.body = body
        self.deadline = deadline
        self.completion = completion
    }
}

/// Whom to tell how a publish ended.
enum PublishCompletion: Sendable {
    /// One `publish` call waiting.
    case single(CheckedContinuation<Void, any Error>)
    /// Message `index` of a `publish(batch)` call.
    case batch(PublishBatch, index: Int)
    /// Nobody (tests).
    case none

    func resolve(_ error: AMQPError?) {
        switch self {
        case .single(let continuation):
            if let error { continuation.resume(throwing: error) } else { continuation.resume() }
        case .batch(let batch, let index):
            batch.resolve(index, error)
        case .none:
            break
        }
    }
}

/// The results of one batch, handed back when its last message is settled.
///
/// `@unchecked Sendable`: created by the publishing task, then mutated only on the connection
/// thread.
final class PublishBatch: @unchecked Sendable {
    private var results: [Result<Void, AMQPError>]
    private var remaining: Int
    private let continuation: CheckedContinuation<[Result<Void, AMQPError>], Never>

    init(count: Int, continuation: CheckedContinuation<[Result<Void, AMQPError>], Never>) {
        results = Array(repeating: .success(()), count: count)
        remaining = count
        self.continuation = continuation
    }

    func resolve(_ index: Int, _ error: AMQPError?) {
        if let error { results[index] = .failure(error) }
        remaining -= 1
        if remaining == 0 { continuation.resume(returning: results) }
    }
}

/// Publisher-confirm bookkeeping for one confirm-mode channel (pure state, no I/O).
///
/// The broker numbers publishes 1, 2, 3… per channel from `confirm.select` and acks or nacks
/// them, possibly several at once (`multiple`), possibly out of order. Messages wait in
/// `waiting` until a slot in the window is free, then sit in `outstanding` (indexed by tag) until
/// their confirm arrives.
struct ConfirmTracker {
    /// The largest number of unconfirmed messages on the wire.
    let window: Int
    private(set) var waiting = Deque<PendingPublish>()
    /// `outstanding[i]` has delivery tag `firstTag + i`; nil marks a tag already settled.
    private var outstanding = Deque<PendingPublish?>()
    private var firstTag: UInt64 = 1

    init(window: Int) { self.window = max(1, window) }

    var canSend: Bool { !waiting.isEmpty && outstanding.count < window }
    var unconfirmedCount: Int { outstanding.count }
    var isIdle: Bool { waiting.isEmpty && outstanding.isEmpty }

    mutating func enqueue(_ publish: PendingPublish) { waiting.append(publish) }

    /// The next message to write; call `didSend()` once it is written.
    var nextToSend: PendingPublish? { outstanding.count < window ? waiting.first : nil }

    /// Moves the first waiting message to `outstanding`; returns its delivery tag.
    @discardableResult
    mutating func didSend() -> UInt64 {
        let publish = waiting.removeFirst()
        outstanding.append(publish)
        return firstTag + UInt64(outstanding.count - 1)
    }

    /// Takes the first waiting message off without sending it (it cannot be written); the
    /// caller resolves it.
    mutating func dropNext() -> PendingPublish { waiting.removeFirst() }

    /// Applies `basic.ack` / `basic.nack`; returns the messages now settled with their outcome.
    mutating func settle(tag: UInt64, multiple: Bool, ack: Bool) -> [(PendingPublish, AMQPError?)] {
        var settled: [(PendingPublish, AMQPError?)] = []
        func outcome(_ p: PendingPublish) -> AMQPError? {
            if !ack { return .nacked(exchange: p.exchange, routingKey: p.routingKey) }
            return p.returned
        }
        if multiple {
            let last = tag == 0 ? firstTag + UInt64(outstanding.count) - 1 : tag
            while !outstanding.isEmpty, firstTag <= last {
                if let p = outstanding.removeFirst(), !p.abandoned { settled.append((p, outcome(p))) }
                firstTag += 1
            }
        } else if tag >= firstTag, tag - firstTag < UInt64(outstanding.count) {
            let index = Int(tag - firstTag)
            if let p = outstanding[index], !p.abandoned { settled.append((p, outcome(p))) }
            outstanding[index] = nil
        }
        dropSettledPrefix()
        return settled
    }

    /// Records a `basic.return`: the oldest unconfirmed mandatory message with the same exchange,
    /// routing key and message id is marked unroutable (its ack follows the return).
    mutating func markReturned(exchange: String, routingKey: String, messageID: String?, error: AMQPError) {
        for index in outstanding.indices {
            guard let p = outstanding[index], p.mandatory, p.returned == nil,
                p.exchange == exchange, p.routingKey == routingKey, p.properties.messageID == messageID
            else { continue }
            p.returned = error
            return
        }
    }

    /// Messages whose deadline has passed, removed from waiting (never sent) or abandoned in
    /// `outstanding` (the broker's late confirm is then ignored).
    mutating func expire(now: UInt64) -> [PendingPublish] {
        var expired = Array(waiting.filter { $0.deadline <= now })
        if !expired.isEmpty { waiting.removeAll { $0.deadline <= now } }
        for index in outstanding.indices {
            guard let p = outstanding[index], p.deadline <= now, !p.abandoned else { continue }
            expired.append(p)
            p.abandoned = true
        }
        return expired
    }

    /// The earliest deadline of any message still owed a result.
    var nextDeadline: UInt64? {
        let w = waiting.lazy.map(\.deadline).min()
        let o = outstanding.lazy.compactMap { $0?.abandoned == false ? $0?.deadline : nil }.min()
        switch (w, o) {
        case let (a?, b?): return min(a, b)
        case let (a?, nil): return a
        case let (nil, b?): return b
        default: return nil
        }
    }

    /// The channel is gone (closed by the broker, or the connection lost); numbering restarts at
    /// 1 on the next channel. With `requeue`, unconfirmed messages go back to the front of
    /// `waiting` in their original order (to be published again); otherwise they are returned
    /// for the caller to fail.
    mutating func resetChannel(requeue: Bool) -> [PendingPublish] {
        let unconfirmed = outstanding.compactMap { $0 }.filter { !$0.abandoned }
        outstanding.removeAll()
        firstTag = 1
        guard requeue else { return unconfirmed }
        for publish in unconfirmed.reversed() {
            publish.returned = nil
            waiting.prepend(publish)
        }
        return []
    }

    /// Removes and returns everything (for shutdown).
    mutating func removeAll() -> [PendingPublish] {
        let all = outstanding.compactMap { $0 } + Array(waiting)
        outstanding.removeAll()
        waiting.removeAll()
        firstTag = 1
        return all.filter { !$0.abandoned }
    }

    private mutating func dropSettledPrefix() {
        while let first = outstanding.first, first == nil {
            outstanding.removeFirst()
            firstTag += 1
        }
    }
}
