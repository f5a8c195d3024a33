import Foundation
import GRDB
import Messages
import ServiceRuntime
import TestSupport
import Testing

@testable import NotificationsCore

/// `registration.erase-requested` in the notifications service, in-process: recipients, bodies,
/// the relay's words and keys that name an address go; what was sent when stays; nothing still
/// waiting is sent to an erased address.
@Suite struct NotificationErasureTests {
    @Test func erasingLeavesNoAddressNameOrBodyAndCancelsWhatWaits() async throws {
        let harness = try NotificationRulesTests.harness()
        let reference = "erase-me"
        let registrationID = Messages.registrationID(eventID: "danang-2026-01", reference: reference)
        var accepted = NotificationRulesTests.accepted(reference)
        accepted.registrationID = registrationID
        try await harness.send(accepted)
        // One was sent (with the relay's answer quoting the address), the others wait.
        try await harness.write { db in
            var records = try NotificationStore.notifications(registrationID: registrationID, in: db)
            records[0].status = .sent
            try NotificationStore.update(records[0], in: db)
            try NotificationStore.recordAttempt(
                DeliveryAttempt(
                    notificationID: records[0].id, attempt: 1, channel: .email, startedAt: NotificationRulesTests.now,
                    finishedAt: NotificationRulesTests.now, outcome: "sent", detail: "250 ok <li.wei.erase-me@example.cn>"), in: db)
        }
        let markers = ["li.wei.erase-me@example.cn", "d1.erase-me@example.cn", "Li Wei", "Delegate 2"]
        let before = try await harness.read { db in try StoreText.all(in: db) }
        for marker in markers { #expect(before.contains(marker), "the test sees \(marker) before") }

        let answers = try await harness.send(
            RegistrationEraseRequested(
                eventID: "danang-2026-01", reference: reference, requestedBy: "ops-desk", reason: .request,
                requestedAt: NotificationRulesTests.now))
        let erased = try #require(answers.of(RegistrationErased.self).first)
        #expect(erased.service == "notifications" && erased.found && erased.registrationID == registrationID)

        let after = try await harness.read { db in try StoreText.all(in: db) }
        for marker in markers { #expect(!after.contains(marker), "\(marker) is gone") }
        let records = try await NotificationRulesTests.notifications(harness, registrationID)
        #expect(!records.isEmpty)
        #expect(records.filter { $0.status == .sent }.count == 1, "what was sent stays counted")
        #expect(records.allSatisfy { $0.status == .sent || $0.status == .cancelled }, "nothing is sent to an erased address")
        #expect(records.allSatisfy { $0.recipient.email == Erasure.email && $0.idempotencyKey.hasPrefix("erased:") })
        let attempts = try await harness.read { db in try NotificationStore.attempts(records[0].id, in: db) }
        #expect(attempts.map(\.outcome) == ["sent"] && attempts.allSatisfy { $0.detail == nil })

        // It may still ride a bus: a new plan for it is applied and tells nobody.
        try await harness.send(
            ItineraryPlanned(
                eventID: "danang-2026-01", registrationID: registrationID, planVersion: 2, timeZone: "Asia/Ho_Chi_Minh",
                items: [NotificationRulesTests.item("visit-1")], unmet: [], plannedAt: NotificationRulesTests.now))
        #expect(try await NotificationRulesTests.notifications(harness, registrationID).count == records.count)
    }

    /// A key written before keys became digests (it held the address) is rewritten by the
    /// store's migration to the digest the same notification gets now.
    @Test func keysWrittenBeforeTheUpgradeHoldNoAddressAfterIt() throws {
        let folder = try TemporaryFolder()
        let pool = try DatabasePool(path: folder.path("notifications.sqlite"))
        let migrator = ServiceStore.migrator(NotificationStore.migrate)
        try migrator.migrate(pool, upTo: "notifications-2")
        let identity = NotificationsHandler.identity(.accepted, subject: "reg-1|rev1", email: "lead@acme.example")
        try pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO notifications (id, idempotency_key, kind, recipient_email, recipient, time_zone, urgent, content,
                        channels, status, due_at, created_at, updated_at)
                    VALUES ('ntf-1', ?, 'accepted', 'lead@acme.example', '{}', 'UTC', 0, '{}', '["email"]', 'sent', 'x', 'x', 'x')
                    """,
                arguments: [identity])
        }
        try migrator.migrate(pool)
        let key = try pool.read { db in try String.fetchOne(db, sql: "SELECT idempotency_key FROM notifications") }
        #expect(key == NotificationsHandler.idempotencyKey(identity))
        #expect(key?.contains("acme") == false)
    }
}
