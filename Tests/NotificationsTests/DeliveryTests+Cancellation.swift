import Foundation
import GRDB
import Messages
import ServiceRuntime
import TestSupport
import Testing

@testable import NotificationsCore

/// A notification cancelled, withdrawn or erased while a worker holds it (claimed, waiting for a
/// lane or being sent): it is not sent from memory, and its outcome does not bring it back.
extension DeliveryTests {
    /// The acceptance goes out while the registration is cancelled; the relay answers 451. The
    /// outcome, recorded after the cancellation, leaves it cancelled: it is not retried later.
    @Test func aNotificationCancelledWhileItIsSentIsNotRetriedLater() async throws {
        let smtp = try await SMTPTestServer(transient: 1)
        defer { smtp.stop() }
        let bench = try await Self.bench(smtp: smtp)
        let accepted = Self.accepted("late-1")
        try await bench.harness.send(accepted)
        let claimed = try await bench.harness.write { db in
            try bench.delivery.claim(.email, now: Date().addingTimeInterval(3600), limit: 10, in: db)
        }
        #expect(claimed.count == 1)
        let outcome = await bench.delivery.send(claimed[0])
        #expect(outcome.outcome?.isPermanent == false, "the relay said 451")

        try await bench.harness.send(
            RegistrationCancelled(
                registrationID: accepted.registrationID, eventID: accepted.eventID, reference: "late-1", reason: "travel ban",
                delegation: accepted.delegation.withoutIdentityDocuments, cancelledAt: Date()))
        let cancelling = try await bench.harness.read { db in try NotificationStore.notification(claimed[0].record.id, in: db) }
        #expect(cancelling?.status == .cancelled, "withdrawn while it was being sent")

        let recorded = try await bench.harness.write { db in try bench.delivery.record([outcome], in: db) }
        #expect(recorded.map(\.overtaken) == [true])
        let history = try #require(try await bench.history("reg-late-1").first { $0.notification.kind == .accepted })
        #expect(history.notification.status == .cancelled, "not pending again")
        #expect(history.attempts.map(\.outcome) == ["transient"], "the attempt is recorded")
        while try await bench.round() > 0 {}
        #expect(smtp.messages.count == 1, "the cancellation notice alone")
        #expect(try await inspectEmail(try #require(smtp.messages.first))["text/plain"]?.contains("travel ban") == true)
        #expect(try await bench.harness.emitted().of(NotificationFailed.self).isEmpty)
    }

    /// Claimed, then the registration is erased before a lane picks it up: the lane finds it no
    /// longer to be sent, and nothing goes to the address memory still holds.
    @Test func aClaimedNotificationErasedBeforeItsLanePicksItUpIsNotSent() async throws {
        let smtp = try await SMTPTestServer()
        defer { smtp.stop() }
        let bench = try await Self.bench(smtp: smtp)
        var accepted = Self.accepted("erased-1")
        accepted.registrationID = registrationID(eventID: accepted.eventID, reference: "erased-1")
        try await bench.harness.send(accepted)
        let claimed = try await bench.harness.write { db in
            try bench.delivery.claim(.email, now: Date().addingTimeInterval(3600), limit: 10, in: db)
        }
        #expect(claimed.count == 1)
        try await bench.harness.send(
            RegistrationEraseRequested(
                eventID: accepted.eventID, reference: "erased-1", requestedBy: "dpo", reason: .request, requestedAt: Date()))

        let outcome = await bench.delivery.send(claimed[0])
        #expect(outcome.overtaken && !outcome.tried)
        _ = try await bench.harness.write { db in try bench.delivery.record([outcome], in: db) }
        #expect(smtp.messages.isEmpty, "nothing sent to the erased address")
        let history = try #require(try await bench.history(accepted.registrationID).first)
        #expect(history.notification.status == .cancelled && history.notification.recipient.email == Erasure.email)
        #expect(history.attempts.isEmpty)
    }

    /// An itinerary being sent when the registration is cancelled may still arrive: its entries
    /// are withdrawn by the cancellation notice like those of one sent.
    @Test func aCancellationWithdrawsTheEntriesOfAnItineraryBeingSent() async throws {
        let harness = try NotificationRulesTests.harness()
        try await NotificationRulesTests.plannedAndSent(harness)
        try await harness.write { db in
            try db.execute(sql: "UPDATE notifications SET status = 'sending' WHERE kind = 'itinerary-planned'")
        }
        try await harness.send(
            RegistrationCancelled(
                registrationID: "reg-acme", eventID: "danang-2026-01", reference: "acme", reason: "travel ban",
                delegation: NotificationRulesTests.accepted().delegation.withoutIdentityDocuments, cancelledAt: NotificationRulesTests.now))
        let records = try await NotificationRulesTests.notifications(harness)
        #expect(records.filter { $0.kind == .itineraryPlanned }.allSatisfy { $0.status == .cancelled })
        let notices = records.filter { $0.kind == .cancelled }
        #expect(notices.count == 5, "everyone who may hold the entries")
        #expect(notices.allSatisfy { $0.content.withdrawn?.map(\.uid).sorted() == ["session@acme", "visit-port@acme"] })
    }

    /// A reminder being sent when its item moves is withdrawn like one pending: a transient
    /// failure of that send does not bring the reminder of the old time back.
    @Test func aReminderBeingSentWhenItsItemMovesIsWithdrawn() async throws {
        let harness = try NotificationRulesTests.harness(reminders: [1440])
        try await ReminderTests.planned(harness)
        let port = ReminderTests.items[3]
        let claimed = try await harness.write { db in
            try NotificationStore.claim(channel: .email, now: port.start.addingTimeInterval(-1440 * 60), limit: 100, in: db)
        }
        let sending = claimed.filter { $0.kind == .reminder && $0.content.items.first?.uid == port.uid }
        #expect(sending.count == 5)
        var items = ReminderTests.items
        items[3] = NotificationRulesTests.moved(port, by: 120)
        try await harness.send(
            NotificationRulesTests.changed(
                version: 2, [ItineraryChange(uid: port.uid, kind: .moved, before: port, after: items[3])], items: items))
        let after = try await harness.read { db in try sending.map { try NotificationStore.notification($0.id, in: db)?.status } }
        #expect(after.allSatisfy { $0 == .cancelled }, "\(after)")
        // The send's outcome, a 451, comes after: it is not written over the withdrawal.
        let written = try await harness.write { db in
            try sending.map { claimed in
                var record = claimed
                record.status = .pending
                record.lastError = "451 4.3.0 try again later"
                return try NotificationStore.recordOutcome(record, in: db)
            }
        }
        #expect(written.allSatisfy { !$0 })
        let still = try await harness.read { db in try sending.map { try NotificationStore.notification($0.id, in: db)?.status } }
        #expect(still.allSatisfy { $0 == .cancelled })
        // A send that went through, though, is what happened: recorded sent over the withdrawal.
        let delivered = try #require(sending.first)
        let recorded = try await harness.write { db in
            var record = delivered
            record.status = .sent
            return try NotificationStore.recordOutcome(record, in: db)
        }
        #expect(recorded)
        #expect(try await harness.read { db in try NotificationStore.notification(delivered.id, in: db)?.status } == .sent)
    }
}
