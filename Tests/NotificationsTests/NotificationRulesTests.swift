import Foundation
import GRDB
import Messages
@testable import NotificationsCore
import ServiceRuntime
import Testing
import TestSupport

/// Who hears what, in-process: the handler on a temporary store, messages in through its entry
/// point, no broker and no SMTP. Sends are simulated by marking notifications sent.
@Suite struct NotificationRulesTests {
    static let now = Samples.danang(day: 8, 10)

    static func harness() throws -> HandlerHarness {
        let configuration = NotificationsConfiguration(
            service: ServiceConfiguration(serviceName: "notifications", amqp: TestBroker.configuration("rules"), storePath: "unused"),
            digestWindow: 60, quietHours: nil)
        return try HandlerHarness(NotificationsHandler(configuration: configuration, clock: { now }).dispatcher, migrations: NotificationStore.migrate)
    }

    /// Delegates 1…`delegates` with addresses, revision `revision`.
    static func accepted(_ reference: String = "acme", revision: Int = 1, delegates: Int = 4) -> RegistrationAccepted {
        let submission = Samples.submission(reference: reference, delegates: delegates)
        return RegistrationAccepted(
            registrationID: "reg-\(reference)", eventID: "danang-2026-01", reference: reference, revision: revision, delegation: submission.delegation,
            acceptedAt: now)
    }

    static func item(_ uid: String, sequence: Int = 0) -> ItineraryItem {
        ItineraryItem(
            uid: uid, kind: .visit, title: LocalizedText(en: "Lien Chieu Port"), venueID: "lien-chieu-port", address: "Lien Chieu, Da Nang",
            start: Samples.danang(day: 14, 8), end: Samples.danang(day: 14, 9), sequence: sequence)
    }

    static func notifications(_ harness: HandlerHarness, _ registration: String = "reg-acme") async throws -> [NotificationRecord] {
        try await harness.read { db in try NotificationStore.notifications(registrationID: registration, in: db) }
    }

    /// Marks everything queued so far as sent, as the delivery workers would.
    static func sendAll(_ harness: HandlerHarness) async throws {
        try await harness.write { db in try db.execute(sql: "UPDATE notifications SET status = 'sent' WHERE status = 'pending'") }
    }

    /// Accepted with four delegates, planned, and the itinerary sent to everyone.
    static func plannedAndSent(_ harness: HandlerHarness) async throws {
        try await harness.send(Samples.programme())
        try await harness.send(Self.accepted())
        try await harness.send(ItineraryPlanned(
            eventID: "danang-2026-01", registrationID: "reg-acme", planVersion: 1, timeZone: "Asia/Ho_Chi_Minh",
            items: [Self.item("visit-port@acme", sequence: 2), Self.item("session@acme")], unmet: [], plannedAt: now))
        try await Self.sendAll(harness)
    }

    @Test func delegatesRemovedByAnAmendmentHaveTheirCalendarEntriesWithdrawn() async throws {
        let harness = try Self.harness()
        try await Self.plannedAndSent(harness)
        try await harness.send(Self.accepted(revision: 2, delegates: 1))
        let withdrawals = try await Self.notifications(harness).filter { $0.kind == .cancelled }
        #expect(Set(withdrawals.map(\.recipient.email)) == ["d2.acme@example.cn", "d3.acme@example.cn", "d4.acme@example.cn"])
        #expect(withdrawals.allSatisfy { $0.content.removedFromDelegation == true })
        #expect(withdrawals.allSatisfy { $0.content.withdrawn?.map(\.uid).sorted() == ["session@acme", "visit-port@acme"] })
        // The lead and the delegate who stays hear nothing of it; the lead's acceptance stands.
        #expect(!withdrawals.contains { ["li.wei.acme@example.cn", "d1.acme@example.cn"].contains($0.recipient.email) })
    }

    @Test func aCancellationWithdrawsTheEntriesOfEveryoneWhoReceivedThem() async throws {
        let harness = try Self.harness()
        try await Self.plannedAndSent(harness)
        try await harness.send(RegistrationCancelled(
            registrationID: "reg-acme", eventID: "danang-2026-01", reference: "acme", reason: "travel ban", delegation: Self.accepted().delegation,
            cancelledAt: Self.now))
        let cancellations = try await Self.notifications(harness).filter { $0.kind == .cancelled }
        #expect(cancellations.count == 5, "the lead and four delegates")
        #expect(cancellations.allSatisfy { $0.content.withdrawn?.count == 2 && $0.content.removedFromDelegation == nil })
        #expect(cancellations.first { $0.recipient.email == "li.wei.acme@example.cn" }?.content.reason == "travel ban")
    }

    @Test func aCancellationBeforeAnyItineraryGoesToTheLeadContactOnly() async throws {
        let harness = try Self.harness()
        try await harness.send(Samples.programme())
        try await harness.send(Self.accepted())
        try await harness.send(RegistrationCancelled(
            registrationID: "reg-acme", eventID: "danang-2026-01", reference: "acme", reason: nil, delegation: Self.accepted().delegation,
            cancelledAt: Self.now))
        let cancellations = try await Self.notifications(harness).filter { $0.kind == .cancelled }
        #expect(cancellations.map(\.recipient.email) == ["li.wei.acme@example.cn"])
        #expect(cancellations.first?.content.withdrawn == [])
    }

    @Test func anAmendmentThatChangesNothingTheRecipientSeesSendsNothing() async throws {
        let harness = try Self.harness()
        try await harness.send(Samples.programme())
        try await harness.send(Self.accepted())
        var samePeople = Self.accepted(revision: 2)
        samePeople.delegation.delegates[1].phone = "+86 755 0000 0000"
        try await harness.send(samePeople)
        #expect(try await Self.notifications(harness).filter { $0.kind == .accepted }.count == 1)
        // Five delegates instead of four is news.
        try await harness.send(Self.accepted(revision: 3, delegates: 5))
        #expect(try await Self.notifications(harness).filter { $0.kind == .accepted }.count == 2)
    }

    @Test func aRefusedAmendmentIsToldThatTheRegistrationStands() async throws {
        let harness = try Self.harness()
        let lead = Self.accepted().delegation.leadContact
        try await harness.send(RegistrationRejected(
            eventID: "danang-2026-01", reference: "acme", revision: 2,
            issues: [ValidationIssue(path: "delegates", code: "capacity_exceeded", message: "the amendment needs 9 places but 2 are free")],
            leadContact: lead, rejectedAt: Self.now, registrationID: "reg-acme", standing: .init(revision: 1, status: .accepted)))
        let rejection = try #require(try await Self.notifications(harness).first { $0.kind == .rejected })
        #expect(rejection.content.standing == .init(revision: 1, status: .accepted))

        let renderer = try await Renderer(directory: NotificationsConfiguration.defaultTemplates)
        for language in Language.allCases {
            var record = rejection
            record.recipient.language = language
            let rendered = try renderer.render(record, eventName: LocalizedText(en: "Da Nang Days"), eventZone: "Asia/Ho_Chi_Minh")
            let stands = ["en": "Your registration stands as it was: revision 1", "vi": "vẫn giữ nguyên như trước: phiên bản 1", "zh-Hans": "原报名保持不变：修订版本1"]
            #expect(rendered.text.contains(stands[language.rawValue] ?? "?"), "\(language): \(rendered.text)")
            #expect(!rendered.text.contains("unable to accept") && !rendered.text.contains("chưa thể tiếp nhận") && !rendered.text.contains("暂无法受理"))
        }
    }
}

extension NotificationRulesTests {
    @Test func aNotificationRowTheCodeCannotReadIsAnErrorNamingItNotADefault() async throws {
        let harness = try Self.harness()
        try await harness.send(Samples.programme())
        try await harness.send(Self.accepted())
        let id = try #require(try await Self.notifications(harness).first?.id)
        try await harness.write { db in try db.execute(sql: "UPDATE notifications SET kind = 'fax' WHERE id = ?", arguments: [id]) }
        do {
            _ = try await Self.notifications(harness)
            Issue.record("a notification of an unknown kind was read")
        } catch let error as UnreadableRow {
            #expect(error.table == "notifications" && error.key == id)
            #expect(error.column == "kind", "\(error)")
        }
    }
}
