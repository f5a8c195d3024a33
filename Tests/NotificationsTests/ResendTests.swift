import Foundation
import GRDB
import Messages
import ServiceRuntime
import TestSupport
import Testing

@testable import NotificationsCore

/// `notification.resend-requested` (contract 1.4): the organisers have a notification sent again.
@Suite struct ResendTests {
    @Test func aResendIsACopyDueAtOnceSentOnceWhateverTheRequestsRepeats() async throws {
        let harness = try NotificationRulesTests.harness()
        try await harness.send(Samples.programme())
        try await harness.send(NotificationRulesTests.accepted())
        try await NotificationRulesTests.sendAll(harness)
        let original = try #require(NotificationRulesTests.lead(try await NotificationRulesTests.notifications(harness)).first)
        #expect(original.status == .sent)

        let request = NotificationResendRequested(
            notificationID: original.id, registrationID: "reg-acme", eventID: "danang-2026-01", requestID: "console-1", requestedBy: "mai")
        try await harness.send(request)
        try await harness.send(request, messageID: "the same request, published again")
        let all = try await NotificationRulesTests.notifications(harness)
        let copies = all.filter { $0.id == request.copyID }
        #expect(copies.count == 1)
        let copy = try #require(copies.first)
        #expect(copy.status == .pending && copy.attempts == 0 && copy.dueAt <= NotificationRulesTests.now)
        #expect(copy.recipient == original.recipient && copy.kind == original.kind && copy.content == original.content)
        #expect(copy.idempotencyKey != original.idempotencyKey, "a key of its own: receivers do not drop it as the original's copy")
        #expect(try await harness.read { db in try NotificationStore.notification(original.id, in: db)?.status } == .sent)
    }

    @Test func nothingIsSentForAnUnknownNotificationOrAnErasedRecipient() async throws {
        let harness = try NotificationRulesTests.harness()
        try await harness.send(Samples.programme())
        let id = registrationID(eventID: "danang-2026-01", reference: "acme")
        var accepted = NotificationRulesTests.accepted()
        accepted.registrationID = id
        try await harness.send(accepted)
        let original = try #require(NotificationRulesTests.lead(try await NotificationRulesTests.notifications(harness, id)).first)
        try await harness.send(
            NotificationResendRequested(notificationID: "ntf-unknown", registrationID: id, eventID: "danang-2026-01", requestID: "r1"))
        try await harness.send(
            RegistrationEraseRequested(
                eventID: "danang-2026-01", reference: "acme", requestedBy: "dpo", reason: .request, requestedAt: Date()))
        try await harness.send(
            NotificationResendRequested(notificationID: original.id, registrationID: id, eventID: "danang-2026-01", requestID: "r2"))
        let ids = try await NotificationRulesTests.notifications(harness, id).map(\.id)
        #expect(ids.contains(original.id), "the original is still known (its recipient erased)")
        #expect(!ids.contains { $0.contains("-resend-") }, "\(ids)")
    }

    /// The request id names the copy, its Message-ID and `X-Delegation-Notification`: one that
    /// could break a header (a line break, angle brackets, a space) is refused, and nothing is
    /// queued.
    @Test func aRequestIDThatCannotNameTheCopySafelyIsRefused() async throws {
        let harness = try NotificationRulesTests.harness()
        try await harness.send(Samples.programme())
        try await harness.send(NotificationRulesTests.accepted())
        try await NotificationRulesTests.sendAll(harness)
        let original = try #require(NotificationRulesTests.lead(try await NotificationRulesTests.notifications(harness)).first)
        let count = try await NotificationRulesTests.notifications(harness).count
        for requestID in ["r1\r\nBcc: all@example.cn", "r1>", "r 1", "", String(repeating: "r", count: 65), "rê"] {
            let request = NotificationResendRequested(
                notificationID: original.id, registrationID: "reg-acme", eventID: "danang-2026-01", requestID: requestID)
            guard case .park(_, let reason, _, _) = try await harness.apply(request) else {
                Issue.record("\(requestID.debugDescription) should be refused")
                continue
            }
            #expect(reason.contains("requestID must be 1 to 64 letters"), "\(reason)")
        }
        #expect(try await NotificationRulesTests.notifications(harness).count == count)
        let console = NotificationResendRequested(
            notificationID: original.id, registrationID: "reg-acme", eventID: "danang-2026-01", requestID: "console-AbC_d-9.x")
        try await harness.send(console)
        #expect(try await NotificationRulesTests.notifications(harness).count == count + 1, "the console's ids are taken")
    }
}
