import Foundation
import GRDB
import Messages
import ServiceRuntime
import TestSupport
import Testing

@testable import NotificationsCore

/// Who hears what, in-process: the handler on a temporary store, messages in through its entry
/// point, no broker and no SMTP. Sends are simulated by marking notifications sent.
@Suite struct NotificationRulesTests {
    static let now = Samples.danang(day: 8, 10)

    /// Reminders off unless asked for (`ReminderTests`): the other rules are tested on their own.
    static func harness(
        quietHours: (start: Int, end: Int)? = nil, reminders: [Int] = [], at now: @escaping @Sendable () -> Date = { now }
    ) throws -> HandlerHarness {
        let configuration = NotificationsConfiguration(
            service: ServiceConfiguration(serviceName: "notifications", amqp: TestBroker.configuration("rules"), storePath: "unused"),
            digestWindow: 60, quietHours: quietHours, reminders: reminders)
        return try HandlerHarness(
            NotificationsHandler(configuration: configuration, clock: now).dispatcher, migrations: NotificationStore.migrate)
    }

    /// Delegates 1…`delegates` with addresses, revision `revision`.
    static func accepted(_ reference: String = "acme", revision: Int = 1, delegates: Int = 4) -> RegistrationAccepted {
        let submission = Samples.submission(reference: reference, delegates: delegates)
        return RegistrationAccepted(
            registrationID: "reg-\(reference)", eventID: "danang-2026-01", reference: reference, revision: revision,
            delegation: submission.delegation,
            acceptedAt: now)
    }

    static func item(_ uid: String, sequence: Int = 0, start: Date = Samples.danang(day: 14, 8)) -> ItineraryItem {
        ItineraryItem(
            uid: uid, kind: .visit, title: LocalizedText(en: "Lien Chieu Port"), venueID: "lien-chieu-port", address: "Lien Chieu, Da Nang",
            start: start, end: start.addingTimeInterval(3600), sequence: sequence)
    }

    /// `item` moved by `minutes`, one sequence on.
    static func moved(_ item: ItineraryItem, by minutes: Double) -> ItineraryItem {
        var moved = item
        moved.start = item.start.addingTimeInterval(minutes * 60)
        moved.end = item.end.addingTimeInterval(minutes * 60)
        moved.sequence += 1
        return moved
    }

    static func changed(version: Int, _ changes: [ItineraryChange], items: [ItineraryItem], at date: Date = now) -> ItineraryChanged {
        ItineraryChanged(
            eventID: "danang-2026-01", registrationID: "reg-acme", planVersion: version, previousVersion: version - 1,
            timeZone: "Asia/Ho_Chi_Minh",
            changes: changes, items: items, unmet: [], changedAt: date)
    }

    static func lead(_ records: [NotificationRecord]) -> [NotificationRecord] {
        records.filter { $0.recipient.email == "li.wei.acme@example.cn" }
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
        try await harness.send(
            ItineraryPlanned(
                eventID: "danang-2026-01", registrationID: "reg-acme", planVersion: 1, timeZone: "Asia/Ho_Chi_Minh",
                items: [Self.item("visit-port@acme", sequence: 2), Self.item("session@acme")], unmet: [], plannedAt: now))
        try await Self.sendAll(harness)
    }

    /// Each notification is queued in the trace of the message it answers, for its delivery span.
    @Test func aNotificationKeepsTheTraceOfTheMessageThatQueuedIt() async throws {
        let harness = try Self.harness()
        let accepting = try #require(TraceContext(traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"))
        let planning = try #require(TraceContext(traceparent: "00-5bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"))
        try await harness.send(Samples.programme())
        try await harness.send(Self.accepted(), trace: accepting)
        try await harness.send(
            ItineraryPlanned(
                eventID: "danang-2026-01", registrationID: "reg-acme", planVersion: 1, timeZone: "Asia/Ho_Chi_Minh",
                items: [Self.item("session@acme")], unmet: [], plannedAt: Self.now),
            trace: planning)
        let records = try await Self.notifications(harness)
        #expect(records.filter { $0.kind == .accepted }.map(\.trace) == [accepting])
        #expect(records.filter { $0.kind == .itineraryPlanned }.allSatisfy { $0.trace == planning })
        #expect(records.contains { $0.kind == .itineraryPlanned })
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
        try await harness.send(
            RegistrationCancelled(
                registrationID: "reg-acme", eventID: "danang-2026-01", reference: "acme", reason: "travel ban",
                delegation: Self.accepted().delegation,
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
        try await harness.send(
            RegistrationCancelled(
                registrationID: "reg-acme", eventID: "danang-2026-01", reference: "acme", reason: nil,
                delegation: Self.accepted().delegation,
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
        try await harness.send(
            RegistrationRejected(
                eventID: "danang-2026-01", reference: "acme", revision: 2,
                issues: [
                    ValidationIssue(path: "delegates", code: "capacity_exceeded", message: "the amendment needs 9 places but 2 are free")
                ],
                leadContact: lead, rejectedAt: Self.now, registrationID: "reg-acme", standing: .init(revision: 1, status: .accepted)))
        let rejection = try #require(try await Self.notifications(harness).first { $0.kind == .rejected })
        #expect(rejection.content.standing == .init(revision: 1, status: .accepted))

        let renderer = try await Renderer(directory: NotificationsConfiguration.defaultTemplates)
        for language in Language.allCases {
            var record = rejection
            record.recipient.language = language
            let rendered = try renderer.render(record, eventName: LocalizedText(en: "Da Nang Days"), eventZone: "Asia/Ho_Chi_Minh")
            let stands = [
                "en": "Your registration stands as it was: revision 1", "vi": "vẫn giữ nguyên như trước: phiên bản 1",
                "zh-Hans": "原报名保持不变：修订版本1",
            ]
            #expect(rendered.text.contains(stands[language.rawValue] ?? "?"), "\(language): \(rendered.text)")
            #expect(
                !rendered.text.contains("unable to accept") && !rendered.text.contains("chưa thể tiếp nhận")
                    && !rendered.text.contains("暂无法受理"))
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

// MARK: Digest, quiet hours, withdrawal, language

extension NotificationRulesTests {
    @Test func changesWithinTheWindowBecomeOneDigest() async throws {
        let harness = try Self.harness()
        try await Self.plannedAndSent(harness)
        let a = Self.item("visit-port@acme"), b = Self.item("visit-hub@acme", start: Samples.danang(day: 15, 14))
        let aMoved = Self.moved(a, by: 30)
        try await harness.send(
            Self.changed(version: 2, [ItineraryChange(uid: a.uid, kind: .moved, before: a, after: aMoved)], items: [aMoved]))
        try await harness.send(
            Self.changed(version: 3, [ItineraryChange(uid: b.uid, kind: .added, before: nil, after: b)], items: [aMoved, b]))
        let pending = Self.lead(try await Self.notifications(harness)).filter { $0.status == .pending }
        #expect(pending.map(\.kind) == [.digest], "one notice for the burst, not one per change")
        let digest = try #require(pending.first)
        #expect(digest.content.changes.map(\.kind) == [.moved, .added])
        #expect(digest.content.planVersion == 3)
        #expect(digest.content.items.map(\.uid) == [a.uid, b.uid])
        #expect(digest.dueAt == Self.now.addingTimeInterval(60), "sent when the first change's window ends")

        // Moving the added item again within the window leaves it "added", at its new time.
        let bMoved = Self.moved(b, by: 60)
        try await harness.send(
            Self.changed(version: 4, [ItineraryChange(uid: b.uid, kind: .moved, before: b, after: bMoved)], items: [aMoved, bMoved]))
        let merged = try #require(Self.lead(try await Self.notifications(harness)).first { $0.status == .pending })
        #expect(merged.content.changes.map { "\($0.uid):\($0.kind)" } == ["\(a.uid):moved", "\(b.uid):added"])
        #expect(merged.content.changes.last?.after?.start == bMoved.start)
    }

    @Test func aChangeWithinADayIsUrgentAndCutsTheDigestWindowShort() async throws {
        let harness = try Self.harness()
        try await Self.plannedAndSent(harness)
        let later = Self.item("visit-hub@acme", start: Samples.danang(day: 15, 14))
        try await harness.send(
            Self.changed(version: 2, [ItineraryChange(uid: later.uid, kind: .added, before: nil, after: later)], items: [later]))
        let tomorrow = Self.item("visit-port@acme", start: Self.now.addingTimeInterval(20 * 3600))
        try await harness.send(
            Self.changed(
                version: 3, [ItineraryChange(uid: tomorrow.uid, kind: .added, before: nil, after: tomorrow)], items: [later, tomorrow]))
        let digest = try #require(Self.lead(try await Self.notifications(harness)).first { $0.status == .pending })
        #expect(digest.kind == .digest && digest.urgent)
        #expect(digest.dueAt == Self.now)
    }

    /// Quiet hours 22:00-07:00 in the recipient's zone (the lead is in China: Beijing time).
    /// At 23:30 in Beijing routine notices wait for 07:00; a change to tomorrow morning does not.
    @Test func quietHoursHoldRoutineMessagesButNotUrgentChanges() async throws {
        let night = Samples.danang(day: 8, 22, 30)  // 23:30 in Beijing
        let harness = try Self.harness(quietHours: (22 * 60, 7 * 60), at: { night })
        try await harness.send(Samples.programme())
        try await harness.send(Self.accepted())
        let morning = Samples.danang(day: 9, 6)  // 07:00 in Beijing
        let accepted = try #require(Self.lead(try await Self.notifications(harness)).first)
        #expect(accepted.kind == .accepted && accepted.dueAt == morning && accepted.timeZone == "Asia/Shanghai")
        try await Self.sendAll(harness)

        let soon = Self.item("visit-port@acme", start: night.addingTimeInterval(10 * 3600))
        let soonMoved = Self.moved(soon, by: 60)
        try await harness.send(
            Self.changed(version: 2, [ItineraryChange(uid: soon.uid, kind: .moved, before: soon, after: soonMoved)], items: [soonMoved]))
        let urgent = try #require(Self.lead(try await Self.notifications(harness)).first { $0.status == .pending })
        #expect(urgent.kind == .itineraryChanged && urgent.urgent && urgent.dueAt == night, "goes at once, quiet hours or not")
        try await Self.sendAll(harness)

        let later = Self.item("visit-hub@acme", start: Samples.danang(day: 15, 14))
        try await harness.send(
            Self.changed(version: 3, [ItineraryChange(uid: later.uid, kind: .added, before: nil, after: later)], items: [soonMoved, later]))
        let routine = try #require(Self.lead(try await Self.notifications(harness)).first { $0.status == .pending })
        #expect(!routine.urgent && routine.dueAt == morning)
    }

    @Test func quietHoursOutsideTheWindowDelayNothing() async throws {
        let harness = try Self.harness(quietHours: (22 * 60, 7 * 60))  // 11:00 in Beijing
        try await harness.send(Samples.programme())
        try await harness.send(Self.accepted())
        #expect(Self.lead(try await Self.notifications(harness)).first?.dueAt == Self.now)
    }

    @Test func aCancellationWithdrawsWhatIsStillPending() async throws {
        let harness = try Self.harness()
        try await Self.plannedAndSent(harness)
        let later = Self.item("visit-hub@acme", start: Samples.danang(day: 15, 14))
        try await harness.send(
            Self.changed(version: 2, [ItineraryChange(uid: later.uid, kind: .added, before: nil, after: later)], items: [later]))
        try await harness.send(
            RegistrationCancelled(
                registrationID: "reg-acme", eventID: "danang-2026-01", reference: "acme", reason: "travel ban",
                delegation: Self.accepted().delegation.withoutIdentityDocuments, cancelledAt: Self.now))
        let records = try await Self.notifications(harness)
        let changes = records.filter { $0.kind == .itineraryChanged }
        #expect(changes.count == 5 && changes.allSatisfy { $0.status == .cancelled }, "nobody hears of a change to a cancelled visit")
        #expect(records.filter { $0.kind == .cancelled }.allSatisfy { $0.status == .pending })
        // A change arriving after the cancellation queues nothing.
        try await harness.send(
            Self.changed(version: 3, [ItineraryChange(uid: later.uid, kind: .removed, before: later, after: nil)], items: []))
        #expect(try await Self.notifications(harness).count == records.count)
    }

    @Test func eachRecipientHearsInTheirLanguageWithEnglishAsFallback() async throws {
        // A template folder without the Chinese "accepted" templates.
        let templates = FileManager.default.temporaryDirectory.appendingPathComponent("templates-\(UUID().uuidString.prefix(6))")
        try FileManager.default.copyItem(atPath: NotificationsConfiguration.defaultTemplates, toPath: templates.path)
        defer { try? FileManager.default.removeItem(at: templates) }
        for part in ["subject", "text", "html"] {
            try FileManager.default.removeItem(at: templates.appendingPathComponent("accepted/zh-Hans.\(part).mustache"))
        }
        let renderer = try await Renderer(directory: templates.path)
        let harness = try Self.harness()
        try await harness.send(Samples.programme())
        for (reference, language) in [("vi-1", Language.vietnamese), ("zh-1", .chineseSimplified), ("en-1", .english)] {
            var accepted = Self.accepted(reference)
            accepted.delegation.leadContact.language = language
            try await harness.send(accepted)
            let record = try #require(try await Self.notifications(harness, "reg-\(reference)").first { $0.kind == .accepted })
            #expect(record.recipient.language == language)
            let rendered = try renderer.render(record, eventName: LocalizedText(en: "Da Nang Days"), eventZone: "Asia/Ho_Chi_Minh")
            #expect(rendered.language == (language == .chineseSimplified ? .english : language), "\(language)")
            #expect(!rendered.subject.isEmpty && !rendered.text.isEmpty)
        }
        #expect(renderer.language(for: .waitlisted, wanted: .chineseSimplified) == .chineseSimplified)
    }
}

// MARK: Keys

extension NotificationRulesTests {
    /// One notification per recipient, kind, subject and version: the same news under another
    /// message id (a publisher's retry, a replay) queues nothing more.
    @Test func theSameNewsUnderAnotherMessageIDQueuesNothingMore() async throws {
        let harness = try Self.harness()
        try await Self.plannedAndSent(harness)
        let before = try await Self.notifications(harness)
        #expect(before.filter { $0.kind == .itineraryPlanned }.count == 5, "the lead and four delegates")
        try await harness.send(Self.accepted(), messageID: "replayed-acceptance")
        try await harness.send(
            ItineraryPlanned(
                eventID: "danang-2026-01", registrationID: "reg-acme", planVersion: 1, timeZone: "Asia/Ho_Chi_Minh",
                items: [Self.item("visit-port@acme", sequence: 2), Self.item("session@acme")], unmet: [], plannedAt: Self.now),
            messageID: "replayed-plan")
        #expect(try await Self.notifications(harness).map(\.id) == before.map(\.id))
        // A notification's id and key derive from what it is (kind, subject, address), so a
        // rebuilt store queues the same ids; the key receivers see holds no address.
        let keys = Set(before.map(\.idempotencyKey))
        #expect(keys.count == before.count)
        let identity = NotificationsHandler.identity(.itineraryPlanned, subject: "reg-acme|v1", email: "D2.Acme@example.cn")
        #expect(
            before.contains {
                $0.id == NotificationsHandler.notificationID(identity) && $0.idempotencyKey == NotificationsHandler.idempotencyKey(identity)
            })
        #expect(!keys.contains { $0.contains("@") || $0.contains("acme") })
    }
}
