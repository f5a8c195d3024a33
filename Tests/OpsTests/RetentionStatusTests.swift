import Foundation
import Messages
import Testing

@testable import OpsCore
@testable import RegistrationsCore

/// What `delegation-ops status` says of retention (from the registrations service's
/// `GET /retention`): each event's due date and progress, and a problem once data is kept a day
/// past its retention.
@Suite struct RetentionStatusTests {
    static func status(now: Date, erased: Int) -> SystemStatus {
        let ends = Date(timeIntervalSince1970: 1_768_410_000)
        let queue = SystemStatus.Queue(name: "q", messages: 0, consumers: 1)
        return SystemStatus(
            services: [], archive: queue, unrouted: queue,
            retention: RegistrationsHTTP.Retention(
                retentionDays: 90,
                events: [
                    RetentionStatus(
                        eventID: "danang-2026-01", endsAt: ends, eraseFrom: ends.addingTimeInterval(90 * 86400), registrations: 38,
                        requested: erased, erased: erased)
                ]),
            time: now)
    }

    @Test func theDueDateIsShownAndDataKeptPastItIsAProblem() {
        let ends = Date(timeIntervalSince1970: 1_768_410_000)
        let before = Self.status(now: ends.addingTimeInterval(86400), erased: 0)
        #expect(before.text.contains("retention (personal data erased 90 days after an event ends):"))
        #expect(before.text.contains("danang-2026-01: ended \(MessageCoding.format(ends)), due"))
        #expect(before.text.contains("38 registration(s), 0 erased"))
        #expect(before.problems.isEmpty)
        // Within a day of the due date the schedule is still at work; after that, it is a problem.
        #expect(Self.status(now: ends.addingTimeInterval(90 * 86400 + 3600), erased: 0).problems.isEmpty)
        let late = Self.status(now: ends.addingTimeInterval(92 * 86400), erased: 30)
        let due = MessageCoding.format(ends.addingTimeInterval(90 * 86400))
        #expect(
            late.problems == [
                "8 registration(s) of danang-2026-01 kept past their retention (due \(due)): is registrations running?"
            ])
        #expect(Self.status(now: ends.addingTimeInterval(92 * 86400), erased: 38).problems.isEmpty)
    }
}
