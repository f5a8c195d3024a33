import Foundation
import GRDB
import Messages
import ServiceRuntime
import TestSupport
import Testing

@testable import NotificationsCore

/// Reminders before each item of an itinerary, on an injected clock: the handler schedules them
/// in the store, and the delivery workers' own claim (`NotificationStore.claim`) takes them when
/// due, as a worker that wakes at the next due time does.
@Suite struct ReminderTests {
    typealias Rules = NotificationRulesTests

    /// The session at the centre on the 13th, a meeting that afternoon, and the port by bus on
    /// the morning of the 14th after the session at the hotel.
    static let items = [
        ItineraryItem(
            uid: "session-opening@acme", kind: .session, title: LocalizedText(en: "Opening session"), venueID: "enosta-hub",
            address: "Enosta Hub, Da Nang", start: Samples.danang(day: 13, 9), end: Samples.danang(day: 13, 11)),
        ItineraryItem(
            uid: "meeting-1@acme", kind: .meeting, title: LocalizedText(en: "Meeting"), venueID: "enosta-hub",
            start: Samples.danang(day: 13, 15),
            end: Samples.danang(day: 13, 15, 30), counterpart: "Song Han Logistics", table: 4),
        ItineraryItem(
            uid: "session-briefing@acme", kind: .session, title: LocalizedText(en: "Briefing"), address: "Hotel Novotel, Da Nang",
            start: Samples.danang(day: 14, 7), end: Samples.danang(day: 14, 7, 45)),
        ItineraryItem(
            uid: "visit-port@acme", kind: .visit, title: LocalizedText(en: "Lien Chieu Port"), venueID: "lien-chieu-port",
            address: "Lien Chieu, Da Nang", start: Samples.danang(day: 14, 8, 30), end: Samples.danang(day: 14, 10), busID: "bus-1"),
        ItineraryItem(
            uid: "travel@acme", kind: .travel, title: LocalizedText(en: "To the port"), start: Samples.danang(day: 14, 7, 45),
            end: Samples.danang(day: 14, 8, 30), busID: "bus-1"),
    ]

    static func planned(_ items: [ItineraryItem] = items, version: Int = 1) -> ItineraryPlanned {
        ItineraryPlanned(
            eventID: "danang-2026-01", registrationID: "reg-acme", planVersion: version, timeZone: "Asia/Ho_Chi_Minh", items: items,
            unmet: [], plannedAt: Rules.now)
    }

    static func reminders(_ harness: HandlerHarness) async throws -> [NotificationRecord] {
        try await Rules.notifications(harness).filter { $0.kind == .reminder }
    }

    /// The lead and four delegates, all with addresses; the status and itinerary notices sent.
    static func planned(_ harness: HandlerHarness) async throws {
        try await harness.send(Samples.programme())
        try await harness.send(Rules.accepted())
        try await harness.send(Self.planned())
        try await harness.write { db in try db.execute(sql: "UPDATE notifications SET status = 'sent' WHERE kind != 'reminder'") }
    }

    /// Runs the delivery workers' claim from `from` on, waking at each next due time (rounded up
    /// to the minute, as coarsely as any worker would), marking what it claims as sent. Returns
    /// each claimed reminder with the time it was taken.
    static func deliver(_ harness: HandlerHarness, until end: Date) async throws -> [(record: NotificationRecord, at: Date)] {
        var taken: [(NotificationRecord, Date)] = []
        while true {
            guard let next = try await harness.read({ db in try NotificationStore.nextDue(channel: .email, in: db) }), next <= end else {
                return taken
            }
            let at = Date(timeIntervalSince1970: (next.timeIntervalSince1970 / 60).rounded(.up) * 60)
            let claimed = try await harness.write { db in
                let claimed = try NotificationStore.claim(channel: .email, now: at, limit: 100, in: db)
                for var record in claimed {
                    record.status = .sent
                    try NotificationStore.update(record, in: db)
                }
                return claimed
            }
            taken += claimed.map { ($0, at) }
        }
    }

    @Test func everyoneWithAnAddressGetsOneReminderPerItemAndOffsetWithinAMinuteOfItsTime() async throws {
        let harness = try Rules.harness(reminders: [1440, 60])
        try await Self.planned(harness)
        // The same plan again (a redelivery, a replay) queues nothing more.
        try await harness.send(Self.planned(), messageID: "the plan, replayed")
        let scheduled = try await Self.reminders(harness)
        let recipients = Set(scheduled.map(\.recipient.email))
        #expect(recipients.count == 5, "the lead and the four delegates")
        #expect(scheduled.count == 5 * 4 * 2, "5 people × 4 items (the travel leg is none) × 2 offsets")

        let taken = try await Self.deliver(harness, until: Samples.danang(day: 15, 0))
        #expect(taken.count == scheduled.count, "each sent, once")
        var seen: Set<String> = []
        for (record, at) in taken {
            let item = try #require(record.content.items.first)
            let minutes = try #require(record.content.reminderMinutes)
            let meant = item.start.addingTimeInterval(-Double(minutes) * 60)
            #expect(record.dueAt == meant, "quiet hours are off here")
            #expect(at >= meant && at.timeIntervalSince(meant) < 60, "\(item.uid) \(minutes) min: taken \(at), meant \(meant)")
            #expect(at < item.start)
            #expect(seen.insert("\(record.recipient.email)|\(item.uid)|\(minutes)").inserted, "one per person, item and offset")
        }
        let port = try #require(scheduled.first { $0.content.items.first?.uid == "visit-port@acme" })
        #expect(port.content.meetingPoint == "Hotel Novotel, Da Nang", "the bus boards where the delegation was just before")
        #expect(scheduled.allSatisfy { $0.urgent == ($0.content.reminderMinutes == 60) }, "the last hour's ignores quiet hours")
    }

    @Test func aMovedItemIsRemindedAtItsNewTimeAndItsOldRemindersAreWithdrawn() async throws {
        let harness = try Rules.harness(reminders: [1440, 60])
        try await Self.planned(harness)
        func pending(_ uid: String) async throws -> [Date] {
            try await Self.reminders(harness).filter { $0.status == .pending && $0.content.items.first?.uid == uid }.map {
                $0.content.items[0].start
            }
        }
        let port = Self.items[3]
        let later = Rules.moved(port, by: 120)
        var items = Self.items
        items[3] = later
        try await harness.send(
            Rules.changed(version: 2, [ItineraryChange(uid: port.uid, kind: .moved, before: port, after: later)], items: items))
        #expect(Set(try await pending(port.uid)) == [later.start])
        #expect(try await pending(port.uid).count == 10, "5 people × 2 offsets, at the new time")
        let withdrawn = try await Self.reminders(harness).filter { $0.status == .cancelled }
        #expect(withdrawn.count == 10 && withdrawn.allSatisfy { $0.content.items.first?.start == port.start })

        // Moved back: the first reminders come back, the others go.
        try await harness.send(
            Rules.changed(version: 3, [ItineraryChange(uid: port.uid, kind: .moved, before: later, after: port)], items: Self.items))
        #expect(Set(try await pending(port.uid)) == [port.start])
        #expect(try await pending(port.uid).count == 10)

        // Removed: none left for it; the other items keep theirs.
        try await harness.send(
            Rules.changed(
                version: 4, [ItineraryChange(uid: port.uid, kind: .removed, before: port, after: nil)],
                items: Array(Self.items.prefix(3))))
        #expect(try await pending(port.uid).isEmpty)
        #expect(try await Self.reminders(harness).filter { $0.status == .pending }.count == 5 * 3 * 2)
    }

    @Test func noneIsSentAfterACancellation() async throws {
        let harness = try Rules.harness(reminders: [1440, 60])
        try await Self.planned(harness)
        try await harness.send(
            RegistrationCancelled(
                registrationID: "reg-acme", eventID: "danang-2026-01", reference: "acme", reason: "travel ban",
                delegation: Rules.accepted().delegation, cancelledAt: Rules.now))
        #expect(try await Self.reminders(harness).allSatisfy { $0.status == .cancelled })
        #expect(try await Self.deliver(harness, until: Samples.danang(day: 15, 0)).allSatisfy { $0.record.kind != .reminder })
    }

    @Test func noneIsSentOnceItsItemHasStartedNorQueuedWhenItsTimeHasPassed() async throws {
        let harness = try Rules.harness(reminders: [1440, 60])
        try await Self.planned(harness)
        // The workers were down from before the 14th's reminders until after the port visit began.
        let afterStart = Samples.danang(day: 14, 8, 31)
        let claimed = try await harness.write { db in try NotificationStore.claim(channel: .email, now: afterStart, limit: 1000, in: db) }
        let late = claimed.filter { $0.kind == .reminder }
        let stale = try await Self.reminders(harness).filter { $0.lastError == "not sent: its item had started" }
        #expect(late.isEmpty)
        #expect(stale.count == 5 * 4 * 2, "the session, the meeting, the briefing and the port: every reminder of an item begun")

        // A plan that arrives 30 minutes before the port visit: no reminder of it is due any more.
        let lateHarness = try Rules.harness(reminders: [1440, 60], at: { Samples.danang(day: 14, 8) })
        try await lateHarness.send(Samples.programme())
        try await lateHarness.send(Rules.accepted())
        try await lateHarness.send(Self.planned())
        #expect(try await Self.reminders(lateHarness).isEmpty)
        // 90 minutes before it: the 60-minute one only.
        let earlier = try Rules.harness(reminders: [1440, 60], at: { Samples.danang(day: 14, 7) })
        try await earlier.send(Samples.programme())
        try await earlier.send(Rules.accepted())
        try await earlier.send(Self.planned())
        let queued = try await Self.reminders(earlier)
        #expect(queued.count == 5 && queued.allSatisfy { $0.content.reminderMinutes == 60 && $0.content.items[0].uid == "visit-port@acme" })
    }

    @Test func quietHoursHoldLongerRemindersButNotTheLastHoursOne() async throws {
        // In Beijing time (the delegation is Chinese): quiet from 22:00 to 07:00.
        let harness = try Rules.harness(quietHours: (22 * 60, 7 * 60), reminders: [1440, 180, 60])
        try await harness.send(Samples.programme())
        try await harness.send(Rules.accepted())
        // 06:00 in Da Nang is 07:00 in Beijing; 04:30 in Da Nang, 05:30 in Beijing.
        let early = ItineraryItem(
            uid: "early@acme", kind: .session, title: LocalizedText(en: "Sunrise at the port"), start: Samples.danang(day: 14, 6, 30),
            end: Samples.danang(day: 14, 7, 30))
        try await harness.send(Self.planned([early]))
        let due = Dictionary(
            uniqueKeysWithValues: try await Self.reminders(harness).filter { $0.recipient.email == "li.wei.acme@example.cn" }.map {
                ($0.content.reminderMinutes ?? 0, $0.dueAt)
            })
        // 24 h before: 07:30 Beijing the day before, outside quiet hours: as meant.
        #expect(due[1440] == Samples.danang(day: 13, 6, 30))
        // 3 h before: 04:30 Beijing, inside; their end (07:00) is too close to the item (07:30
        // Beijing), so it goes when they began, 22:00 Beijing the evening before.
        #expect(due[180] == Samples.danang(day: 13, 21))
        // 1 h before: 06:30 Beijing, inside quiet hours, sent anyway.
        #expect(due[60] == Samples.danang(day: 14, 5, 30))
        #expect(try await Self.reminders(harness).filter { $0.content.reminderMinutes == 60 }.allSatisfy(\.urgent))
    }
}
