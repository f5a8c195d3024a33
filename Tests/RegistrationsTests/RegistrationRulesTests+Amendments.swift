import Foundation
import GRDB
import Messages
import RegistrationsCore
import ServiceRuntime
import TestSupport
import Testing

// MARK: - Amendments: what they may change once capacity is short, and when they are not answered

extension RegistrationRulesTests {
    /// Capacity lowered below what is taken: an amendment that needs no more places than the
    /// registration holds (a new phone number, a smaller group) is accepted; only one that
    /// grows the delegation needs free places.
    @Test func anAmendmentThatDoesNotGrowTheDelegationIsAcceptedWhenTheEventIsOverFull() async throws {
        let (harness, _) = try Self.harness()
        try await harness.send(Samples.programme(version: 1, organisations: 40, delegates: 10))
        try await harness.send(Samples.submission(reference: "a", delegates: 4))
        try await harness.send(Samples.submission(reference: "b", delegates: 4))
        // 8 places taken; now 6 in all, and one organisation.
        try await harness.send(Samples.programme(version: 2, organisations: 1, delegates: 6))

        var newPhone = Samples.submission(reference: "a", revision: 2, delegates: 4)
        newPhone.leadContact.phone = "+86 755 8765 4321"
        let phone = try await harness.send(newPhone)
        #expect(phone.of(RegistrationAccepted.self).map(\.revision) == [2])
        let smaller = try await harness.send(Samples.submission(reference: "a", revision: 3, delegates: 3))
        #expect(smaller.of(RegistrationAccepted.self).map(\.revision) == [3])
        #expect(smaller.of(RegistrationAccepted.self).first?.delegation.delegates.count == 3)

        // Growing needs free places: b's 4 and 4 more are over 6.
        let larger = try await harness.send(Samples.submission(reference: "a", revision: 4, delegates: 4))
        let refused = try #require(larger.of(RegistrationRejected.self).first)
        #expect(refused.issues.map(\.code) == ["capacity_exceeded"])
        #expect(refused.standing == .init(revision: 3, status: .accepted))
        let record = try await harness.read { db in try RegistrationStore.registration(eventID: Self.event, reference: "a", in: db) }
        #expect(record?.revision == 3 && record?.delegateCount == 3)
    }

    /// A lower or equal revision is ignored before anything else is judged: resent after the
    /// deadline (a retry, or the same revision under a new message id) it gets no answer and
    /// leaves no rejection, and the lead contact is not told that a change failed.
    @Test func anOldOrRepeatedRevisionAfterTheDeadlineIsIgnoredNotRejected() async throws {
        let (harness, _) = try Self.harness()
        try await harness.send(Samples.programme(deadline: Samples.danang(day: 10, 17)))
        let onTime = Samples.danang(day: 9, 12)
        try await harness.send(Samples.submission(reference: "a"), messageID: "a-rev-1", receivedAt: onTime)
        let amended = try await harness.send(Samples.submission(reference: "a", revision: 2), messageID: "a-rev-2", receivedAt: onTime)
        #expect(amended.of(RegistrationAccepted.self).map(\.revision) == [2])

        let late = Samples.danang(day: 11, 9)
        let resent = try await harness.send(Samples.submission(reference: "a", revision: 2), messageID: "a-rev-2-again", receivedAt: late)
        #expect(resent.answers.isEmpty)
        let older = try await harness.send(Samples.submission(reference: "a", revision: 1), messageID: "a-rev-1-again", receivedAt: late)
        #expect(older.answers.isEmpty)
        #expect(try await harness.read { db in try RegistrationStore.rejectionCount(eventID: Self.event, in: db) } == 0)

        // A newer revision after the deadline is still judged, and refused.
        let newer = try await harness.send(Samples.submission(reference: "a", revision: 3), receivedAt: late)
        let refused = try #require(newer.of(RegistrationRejected.self).first)
        #expect(refused.issues.map(\.code) == ["registration_closed"])
        #expect(refused.standing == .init(revision: 2, status: .accepted))
    }

    /// An amendment submitted before the registration was cancelled but taken after the
    /// cancellation (held up in a queue, or replayed by ops from a dead-letter queue at night)
    /// leaves it cancelled: nobody is given places back they asked to give up. Its sender hears
    /// why; the lead, who cancelled, is not e-mailed (the answer names no lead). A registration
    /// made again after the cancellation is placed as a new one.
    @Test func anAmendmentSubmittedBeforeTheCancellationDoesNotBringTheRegistrationBack() async throws {
        let (harness, _) = try Self.harness()
        try await harness.send(Samples.programme())
        try await harness.send(Samples.submission(reference: "a"), receivedAt: Samples.danang(day: 3, 10))
        let cancel = RegistrationCancelRequested(eventID: Self.event, reference: "a", requestedAt: Samples.danang(day: 4, 9))
        let cancelled = try await harness.send(cancel, receivedAt: Samples.danang(day: 4, 10))
        #expect(cancelled.of(RegistrationCancelled.self).map(\.reference) == ["a"])

        var delayed = Samples.submission(reference: "a", revision: 2)
        delayed.submittedAt = Samples.danang(day: 4, 8)
        let late = try await harness.send(delayed, messageID: "a-rev-2", correlationID: "crm-a-2", receivedAt: Samples.danang(day: 4, 11))
        #expect(late.answers.map(\.type) == [.registrationRejected])
        let refused = try #require(late.of(RegistrationRejected.self).first)
        #expect(refused.issues.map(\.code) == ["registration_cancelled"] && refused.issues.map(\.path) == ["submittedAt"])
        #expect(refused.revision == 2 && refused.standing == nil && refused.leadContact == nil)
        #expect(late.answers.map(\.correlationID) == ["crm-a-2"])
        var record = try await harness.read { db in try RegistrationStore.registration(eventID: Self.event, reference: "a", in: db) }
        #expect(record?.status == .cancelled && record?.revision == 1)

        var again = Samples.submission(reference: "a", revision: 3)
        again.submittedAt = Samples.danang(day: 4, 12)
        let registered = try await harness.send(again, receivedAt: Samples.danang(day: 4, 12))
        #expect(registered.of(RegistrationAccepted.self).map(\.revision) == [3])
        record = try await harness.read { db in try RegistrationStore.registration(eventID: Self.event, reference: "a", in: db) }
        #expect(record?.status == .accepted && record?.cancelRequestedAt == nil)
    }

    /// Without a `requestedAt`, or with one later than its arrival (a sender's clock ahead), a
    /// cancellation counts from when it arrived: a registration made again right after it is
    /// not taken for a delayed amendment.
    @Test func aCancellationCountsFromItsArrivalWhenItsOwnTimeIsMissingOrAhead() async throws {
        let (harness, _) = try Self.harness()
        try await harness.send(Samples.programme())
        for (reference, requestedAt) in [("a", nil), ("b", Samples.danang(day: 6, 10))] as [(String, Date?)] {
            try await harness.send(Samples.submission(reference: reference), receivedAt: Samples.danang(day: 3, 10))
            let cancel = RegistrationCancelRequested(eventID: Self.event, reference: reference, requestedAt: requestedAt)
            try await harness.send(cancel, receivedAt: Samples.danang(day: 4, 10))
            let record = try await harness.read { db in
                try RegistrationStore.registration(eventID: Self.event, reference: reference, in: db)
            }
            #expect(record?.cancelRequestedAt == Samples.danang(day: 4, 10))

            var before = Samples.submission(reference: reference, revision: 2)
            before.submittedAt = Samples.danang(day: 4, 9)
            let refused = try await harness.send(before, receivedAt: Samples.danang(day: 4, 11))
            #expect(refused.of(RegistrationRejected.self).flatMap(\.issues).map(\.code) == ["registration_cancelled"])
            var after = Samples.submission(reference: reference, revision: 3)
            after.submittedAt = Samples.danang(day: 4, 11)
            let again = try await harness.send(after, receivedAt: Samples.danang(day: 4, 11))
            #expect(again.of(RegistrationAccepted.self).map(\.revision) == [3], "\(reference)")
        }
    }
}
