import DequeModule

/// Consumer-side acknowledgement bookkeeping for one channel (pure state, no I/O).
///
/// Deliveries on a channel carry consecutive tags. Acks requested by the application are
/// collected and flushed together: a run of settled deliveries at the front becomes one
/// `basic.ack` with `multiple`, any other requested ack is sent on its own. Nacks and rejects
/// are sent at once by the caller and only recorded here, so a multiple ack never covers them.
struct AckTracker {
    enum State { case unsettled, ackRequested, settled }

    /// `states[i]` belongs to delivery tag `firstTag + i`.
    private var states = Deque<State>()
    private var firstTag: UInt64 = 1
    private var requested = 0

    /// Deliveries not yet acked, nacked or rejected.
    var unsettledCount: Int { states.count { $0 != .settled } }
    /// True when every delivery so far is settled (and its ack flushed).
    var isClear: Bool { states.isEmpty }

    mutating func delivered(tag: UInt64) {
        if states.isEmpty { firstTag = tag }
        // Tags are consecutive per channel; a gap (never seen here) is treated as settled.
        while firstTag + UInt64(states.count) < tag { states.append(.settled) }
        states.append(.unsettled)
    }

    /// Notes that the application acked `tag`; false if the tag is unknown or already settled.
    mutating func requestAck(tag: UInt64) -> Bool {
        guard let index = index(of: tag), states[index] == .unsettled else { return false }
        states[index] = .ackRequested
        requested += 1
        return true
    }

    /// Notes that a nack or reject for `tag` is being sent; false if unknown or already settled.
    mutating func settle(tag: UInt64) -> Bool {
        guard let index = index(of: tag), states[index] == .unsettled else { return false }
        states[index] = .settled
        dropSettledPrefix()
        return true
    }

    /// The acks to send now, as (tag, multiple); clears the requests.
    mutating func flush() -> [(tag: UInt64, multiple: Bool)] {
        guard requested > 0 else { return [] }
        var frames: [(tag: UInt64, multiple: Bool)] = []
        var lastAcked: UInt64?
        var ackedInPrefix = 0
        while let state = states.first, state != .unsettled {
            if state == .ackRequested {
                lastAcked = firstTag
                ackedInPrefix += 1
            }
            states.removeFirst()
            firstTag += 1
        }
        if let lastAcked { frames.append((lastAcked, ackedInPrefix > 1)) }
        requested -= ackedInPrefix
        if requested > 0 {
            for index in states.indices where states[index] == .ackRequested {
                frames.append((firstTag + UInt64(index), false))
                states[index] = .settled
            }
            requested = 0
        }
        return frames
    }

    private func index(of tag: UInt64) -> Int? {
        guard tag >= firstTag, tag - firstTag < UInt64(states.count) else { return nil }
        return Int(tag - firstTag)
    }

    private mutating func dropSettledPrefix() {
        while states.first == .settled {
            states.removeFirst()
            firstTag += 1
        }
    }
}
