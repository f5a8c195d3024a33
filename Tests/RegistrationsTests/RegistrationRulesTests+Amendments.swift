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
}
