import AMQP
import Foundation
import GRDB
import Messages
import ServiceCatalog
import ServiceRuntime
import TestSupport
import Testing

/// Reminders through the real broker and services, on the real clock: an event whose opening
/// session starts in a few minutes, reminders two minutes before it. Two delegations are
/// planned; one is cancelled before its reminders are due; notifications is killed (-9) and
/// restarted in between. Each person of the other gets the reminder once, within a minute of its
/// time; the cancelled delegation's people get none.
@Suite(.serialized) struct ReminderSystemTests {
    static let zone = "Asia/Ho_Chi_Minh"

    /// The sample programme on one day, today, with one session at `start` and no site visits.
    static func programme(session start: Date) -> ProgrammePublished {
        var programme = Samples.programme(eventID: "reminders-today")
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: zone) ?? .gmt
        let day = calendar.dateComponents([.year, .month, .day], from: start)
        programme.days = [String(format: "%04d-%02d-%02d", day.year ?? 0, day.month ?? 0, day.day ?? 0)]
        programme.venues = programme.venues.filter { !$0.isSiteVisit }
        programme.sessions = [
            FixedSession(
                id: "opening", title: LocalizedText(en: "Opening session"), venueID: programme.venues[0].id, start: start,
                end: start.addingTimeInterval(3600))
        ]
        return programme
    }

    static func publish<T: MessagePayload>(_ payload: T, _ publisher: AMQPConnection, id: String) async throws {
        let message = try OutgoingMessage.domain(payload, exchange: "delegation", messageID: id, appID: "reminder-test")
        try await publisher.publish(
            message.body, exchange: "delegation", routingKey: message.routingKey, properties: message.properties, mandatory: true)
    }

    @Test func eachPersonIsRemindedOnceAtItsTimeThroughARestartAndNobodyCancelled() async throws {
        try await RunningSystem.inVirtualHost("reminders") { system, smtp, publisher, _ in
            // The session starts 3 to 4 minutes from now; its reminders are due 2 minutes before.
            let start = Date(timeIntervalSince1970: ((Date().timeIntervalSince1970 / 60).rounded(.up) + 3) * 60)
            system.environment["NOTIFICATIONS_REMINDERS"] = "2"
            for service in SystemServices.all where service.name != "console" { try system.start(service.name) }
            let programme = Self.programme(session: start)
            try await Self.publish(programme, publisher, id: "programme")
            for reference in ["stays", "cancels"] {
                var submission = Samples.submission(eventID: programme.eventID, reference: reference, delegates: 3)
                submission.preferredVisits = []  // (the event has no site visits)
                try await Self.publish(submission, publisher, id: reference)
            }
            let cancelled = registrationID(eventID: programme.eventID, reference: "cancels")
            func reminders() -> [(id: String, registration: String, status: String, due: Date?, updated: Date?)] {
                (try? system.read("notifications") { db in
                    try Row.fetchAll(
                        db, sql: "SELECT id, registration_id, status, due_at, updated_at FROM notifications WHERE kind = 'reminder'"
                    ).map { row in
                        (
                            row["id"], row["registration_id"], row["status"], MessageCoding.parse(row["due_at"] as String),
                            MessageCoding.parse(row["updated_at"] as String)
                        )
                    }
                }) ?? []
            }
            // Both delegations planned: the lead and three delegates each, one reminder each.
            let scheduled = await RunningSystem.settle(within: 90) {
                let all = reminders()
                return (all.count == 8, "\(all.count) reminders scheduled")
            }
            try #require(scheduled.settled, "\(scheduled.last)")
            #expect(Date() < start.addingTimeInterval(-120), "scheduled before they are due (else the test proves nothing)")

            try await Self.publish(
                RegistrationCancelRequested(eventID: programme.eventID, reference: "cancels", reason: "flight cancelled"), publisher,
                id: "cancel")
            let withdrawn = await RunningSystem.settle(within: 60) {
                let theirs = reminders().filter { $0.registration == cancelled }
                return (theirs.count == 4 && theirs.allSatisfy { $0.status == "cancelled" }, "\(theirs.map(\.status))")
            }
            #expect(withdrawn.settled, "the cancelled delegation's reminders are withdrawn: \(withdrawn.last)")
            try await system.restart("notifications")

            // Due at start − 2 min; sent within a minute of it.
            let sent = await RunningSystem.settle(within: 300) {
                let theirs = reminders().filter { $0.registration != cancelled }
                return (theirs.count == 4 && theirs.allSatisfy { $0.status == "sent" }, "\(theirs.map(\.status))")
            }
            #expect(sent.settled, "\(sent.last)")
            let received = RunningSystem.receivedMessageIDs(smtp)
            for reminder in reminders() {
                if reminder.registration == cancelled {
                    #expect(received[reminder.id] == nil, "nothing for a cancelled registration")
                } else {
                    #expect(received[reminder.id] == 1, "\(reminder.id) received once")
                    let due = try #require(reminder.due)
                    #expect(due == start.addingTimeInterval(-120))
                    let sentAt = try #require(reminder.updated)
                    #expect(sentAt >= due && sentAt.timeIntervalSince(due) < 60, "sent \(sentAt), due \(due)")
                }
            }
        }
    }
}
