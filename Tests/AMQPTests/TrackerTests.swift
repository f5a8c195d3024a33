import Foundation
import Testing

@testable import AMQP

/// The confirm and ack bookkeeping, without a broker.
@Suite struct TrackerTests {
    private func publish(_ n: Int, deadline: UInt64 = .max) -> PendingPublish {
        PendingPublish(
            exchange: "x", routingKey: "k", mandatory: true, properties: MessageProperties(messageID: "m\(n)"), body: Data(),
            deadline: deadline, completion: .none)
    }

    @Test func windowLimitsWhatIsOnTheWire() {
        var tracker = ConfirmTracker(window: 3)
        for n in 1...5 { tracker.enqueue(publish(n)) }
        var tags: [UInt64] = []
        while tracker.nextToSend != nil { tags.append(tracker.didSend()) }
        #expect(tags == [1, 2, 3])
        #expect(tracker.waiting.count == 2)
        _ = tracker.settle(tag: 2, multiple: false, ack: true)
        #expect(tracker.nextToSend == nil, "tag 1 still unconfirmed holds the window")
        let settled = tracker.settle(tag: 1, multiple: false, ack: true)
        #expect(settled.compactMap(\.0.properties.messageID) == ["m1"])
        #expect(tracker.didSend() == 4)
    }

    @Test func multipleAcksSettleEverythingUpToTheTag() {
        var tracker = ConfirmTracker(window: 100)
        for n in 1...10 {
            tracker.enqueue(publish(n))
            tracker.didSend()
        }
        let first = tracker.settle(tag: 4, multiple: true, ack: true)
        #expect(first.compactMap(\.0.properties.messageID) == ["m1", "m2", "m3", "m4"])
        let nacked = tracker.settle(tag: 6, multiple: false, ack: false)
        #expect(nacked.count == 1)
        #expect(nacked.first?.1 == .nacked(exchange: "x", routingKey: "k"))
        let rest = tracker.settle(tag: 0, multiple: true, ack: true)
        #expect(rest.compactMap(\.0.properties.messageID) == ["m5", "m7", "m8", "m9", "m10"])
        #expect(tracker.isIdle)
    }

    @Test func aReturnFailsTheMatchingMessageWhenItsAckArrives() {
        var tracker = ConfirmTracker(window: 100)
        for n in 1...3 {
            tracker.enqueue(publish(n))
            tracker.didSend()
        }
        let error = AMQPError.unroutable(exchange: "x", routingKey: "k", .noRoute, text: "NO_ROUTE")
        tracker.markReturned(exchange: "x", routingKey: "k", messageID: "m2", error: error)
        let settled = tracker.settle(tag: 3, multiple: true, ack: true)
        #expect(settled.map { $0.1 } == [nil, error, nil])
    }

    @Test func unconfirmedMessagesGoBackInOrderAfterALostConnection() {
        var tracker = ConfirmTracker(window: 2)
        for n in 1...4 { tracker.enqueue(publish(n)) }
        tracker.didSend()
        tracker.didSend()
        _ = tracker.settle(tag: 1, multiple: false, ack: true)
        #expect(tracker.resetChannel(requeue: true).isEmpty)
        #expect(tracker.waiting.compactMap(\.properties.messageID) == ["m2", "m3", "m4"])
        #expect(tracker.didSend() == 1, "numbering restarts on the new channel")
    }

    @Test func expiredMessagesAreAbandonedNotResent() {
        var tracker = ConfirmTracker(window: 10)
        tracker.enqueue(publish(1, deadline: 100))
        tracker.didSend()
        tracker.enqueue(publish(2, deadline: 100))
        tracker.enqueue(publish(3, deadline: 500))
        let expired = tracker.expire(now: 200)
        #expect(expired.compactMap(\.properties.messageID).sorted() == ["m1", "m2"])
        #expect(tracker.waiting.compactMap(\.properties.messageID) == ["m3"])
        #expect(tracker.nextDeadline == 500)
    }

    @Test func acksInOrderBecomeOneMultipleAck() {
        var acks = AckTracker()
        for tag in 1...5 { acks.delivered(tag: UInt64(tag)) }
        for tag in 1...4 {
            let accepted = acks.requestAck(tag: UInt64(tag))
            #expect(accepted)
        }
        let frames = acks.flush()
        #expect(frames.count == 1)
        #expect(frames.first?.tag == 4 && frames.first?.multiple == true)
        #expect(acks.unsettledCount == 1)
    }

    @Test func acksBehindAnUnsettledDeliveryAreSentSingly() {
        var acks = AckTracker()
        for tag in 1...4 { acks.delivered(tag: UInt64(tag)) }
        let r1 = acks.requestAck(tag: 2)
        #expect(r1)
        let r2 = acks.requestAck(tag: 4)
        #expect(r2)
        let frames = acks.flush()
        #expect(frames.map(\.tag) == [2, 4])
        #expect(frames.allSatisfy { !$0.multiple })
        let again = acks.requestAck(tag: 2)
        #expect(!again, "a delivery is settled once")
        let r3 = acks.requestAck(tag: 1)
        #expect(r3)
        let next = acks.flush()
        #expect(next.count == 1 && next[0].tag == 1 && !next[0].multiple)
        #expect(acks.unsettledCount == 1)
    }

    @Test func aMultipleAckNeverCoversANackedDeliveryAsAck() {
        var acks = AckTracker()
        for tag in 1...3 { acks.delivered(tag: UInt64(tag)) }
        let r4 = acks.requestAck(tag: 1)
        #expect(r4)
        let r5 = acks.settle(tag: 2)
        #expect(r5)
        let r6 = acks.requestAck(tag: 3)
        #expect(r6)
        let frames = acks.flush()
        // One multiple ack up to 3: the broker no longer holds 2 (nacked first, on the same wire).
        #expect(frames.count == 1 && frames[0].tag == 3 && frames[0].multiple)
        #expect(acks.unsettledCount == 0)
    }
}
