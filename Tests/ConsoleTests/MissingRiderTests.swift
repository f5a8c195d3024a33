import Foundation
import GRDB
import HTTPTypes
import Messages
import Passes
import ServiceRuntime
import TestSupport
import Testing

@testable import ConsoleCore

/// Who is missing when a bus leaves (issue 15): one `boarding.missed` per delegation, bus and
/// day, raised on the console's clock once the programme's minutes after departure have passed,
/// never twice, never for someone on board or declared absent; the lead's signed link and the
/// marshal's button say who will not come (`attendance.declined`), once.
@Suite struct MissingRiderTests {
    typealias Browser = ConsolePagesTests.Browser
    static let keys = CheckinTests.keys
    static let day = CheckinTests.day
    static let publicURL = "https://console.example.org"

    /// Boards `persons` of `reference` on bus-1 (or `bus`) as marshals' scans.
    static func board(_ harness: HandlerHarness, _ reference: String, _ persons: [Int], bus: String = "bus-1") async throws {
        let programme = ConsoleFixtures.programme()
        try await harness.write { db in
            for person in persons {
                let outcome = try Checkins.record(
                    CheckinTests.scan("scan-\(reference)-\(person)", pass: CheckinTests.pass(reference, person), bus: bus),
                    marshal: "tuan", keys: Self.keys, programme: programme, now: Samples.danang(day: 14, 7, 50), in: db)
                #expect(outcome.status == .recorded)
            }
        }
    }

    static func raise(_ harness: HandlerHarness, at now: Date, programme: ProgrammePublished = ConsoleFixtures.programme()) async throws
        -> Int
    {
        try await harness.write { db in
            try MissingRiders.raise(programme: programme, now: now, keys: Self.keys, publicURL: Self.publicURL, in: db)
        }
    }

    static func published<Payload: MessagePayload>(_ type: Payload.Type, _ harness: HandlerHarness) async throws -> [Payload] {
        try await harness.read { db in
            try Data.fetchAll(
                db, sql: "SELECT body FROM outbox WHERE message_type = ? ORDER BY rowid", arguments: [type.messageType.rawValue]
            )
            .map { try MessageCoding.decode(type, from: $0) }
        }
    }

    /// When bus-1 and bus-2 leave the hall on the 14th: early enough to reach their first visit
    /// (08:00 at the port, 09:00 at the hub) by the programme's travel times.
    static func departures() -> (bus1: Date, bus2: Date) {
        let programme = ConsoleFixtures.programme()
        let hall = programme.venues.first { !$0.isSiteVisit }?.id
        func leaves(_ hour: Int, for venue: String) -> Date {
            Samples.danang(day: 14, hour).addingTimeInterval(-Double(programme.travelMinutes(from: hall, to: venue) * 60))
        }
        return (leaves(8, for: "lien-chieu-port"), leaves(9, for: "enosta-hub"))
    }

    @Test func aBusLeavingWithoutSomeoneAlertsTheirLeadOnceAfterTheProgrammesMinutes() async throws {
        let harness = try await ConsoleFixtures.event()
        let programme = ConsoleFixtures.programme()
        let (bus1, bus2) = Self.departures()
        #expect(bus1 < Samples.danang(day: 14, 8), "the drive from the hall to the port takes time")
        let visits = try await harness.read { db in try ConsoleQueries.busVisits(eventID: programme.eventID, day: Self.day, in: db) }
        #expect(MissingRiders.departures(programme: programme, day: Self.day, visits: visits).map(\.at) == [bus1, bus2])

        // acme's first two and delta's first board; delta's second will not come (said before).
        try await Self.board(harness, "acme", [1, 2])
        try await Self.board(harness, "delta", [1])
        let early = try await harness.write { db in
            try MissingRiders.decline(
                eventID: programme.eventID, registrationID: ConsoleFixtures.id("delta"), persons: [2], day: Self.day, source: .console,
                recordedBy: "tuan", now: Samples.danang(day: 14, 7), in: db)
        }
        #expect(early == [2])

        #expect(try await Self.raise(harness, at: bus1.addingTimeInterval(4 * 60 + 59)) == 0, "5 minutes' grace by default")
        #expect(try await Self.raise(harness, at: bus1.addingTimeInterval(5 * 60)) == 1)
        #expect(try await Self.raise(harness, at: bus1.addingTimeInterval(6 * 60)) == 0, "once")
        var alerts = try await Self.published(BoardingMissed.self, harness)
        let alert = try #require(alerts.first)
        #expect(alert.registrationID == ConsoleFixtures.id("acme") && alert.persons == [3] && alert.busID == "bus-1")
        #expect(alert.departure == bus1 && alert.day == Self.day && alert.venueID == programme.venues.first { !$0.isSiteVisit }?.id)
        let link = try #require(alert.answerURL)
        #expect(link.hasPrefix("\(Self.publicURL)/answer?t=DA1."))
        let answer = try Pass.verify(String(link.split(separator: "=", maxSplits: 1)[1]), keys: Self.keys, now: bus1, for: .answer)
        #expect(answer.registrationID == alert.registrationID && answer.person == 0)
        #expect(throws: PassError.malformed) {
            try Pass.verify(CheckinTests.pass("acme", 1).token(Self.keys), keys: Self.keys, for: .answer)
        }

        // bus-2 leaves later; hanoi-ai's only delegate boards late, after the alert.
        #expect(try await Self.raise(harness, at: bus2.addingTimeInterval(5 * 60)) == 1)
        try await Self.board(harness, "hanoi-ai", [1], bus: "bus-2")
        #expect(try await Self.raise(harness, at: bus2.addingTimeInterval(7 * 60)) == 0)
        alerts = try await Self.published(BoardingMissed.self, harness)
        #expect(alerts.map(\.registrationID) == [ConsoleFixtures.id("acme"), ConsoleFixtures.id("hanoi-ai")])

        // The console's own message back from the broker (or a replay): kept once.
        try await harness.send(alert)
        try await harness.send(alert, messageID: "a replayed copy")
        #expect(try await harness.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM missing_alerts") } == 2)
    }

    @Test func noAlertWhenTheProgrammeSaysNoneTooLateOrOnAnotherDay() async throws {
        let (bus1, _) = Self.departures()
        var quiet = ConsoleFixtures.programme()
        quiet.missingRiderAlerts = MissingRiderAlerts(enabled: false)
        let harness = try await ConsoleFixtures.event()
        #expect(try await Self.raise(harness, at: bus1.addingTimeInterval(10 * 60), programme: quiet) == 0)
        #expect(try await Self.raise(harness, at: bus1.addingTimeInterval(3 * 3600)) == 0, "a console down all morning sends none stale")
        #expect(try await Self.raise(harness, at: bus1.addingTimeInterval(-86400 + 600)) == 0, "the 13th: nobody rides bus-1")
        var later = ConsoleFixtures.programme()
        later.missingRiderAlerts = MissingRiderAlerts(afterMinutes: 15)
        #expect(try await Self.raise(harness, at: bus1.addingTimeInterval(10 * 60), programme: later) == 0)
        #expect(try await Self.raise(harness, at: bus1.addingTimeInterval(15 * 60), programme: later) == 2, "acme and delta")
        #expect(try await Self.published(BoardingMissed.self, harness).count == 2)
        #expect(throws: MessageDecodingError.self) {
            try MessageCoding.decode(MissingRiderAlerts.self, from: Data(#"{"afterMinutes": 500}"#.utf8))
        }
    }

    @Test func theLeadsLinkAndTheMarshalsButtonSayWhoWillNotComeOnce() async throws {
        let harness = try await ConsoleFixtures.event()
        let (bus1, _) = Self.departures()
        try await Self.board(harness, "acme", [1])
        #expect(try await Self.raise(harness, at: bus1.addingTimeInterval(5 * 60)) == 2)
        let acme = ConsoleFixtures.id("acme")
        let token = try #require(
            MissingRiders.answerURL(
                eventID: ConsoleFixtures.eventID, registrationID: acme, day: Self.day, zone: "Asia/Ho_Chi_Minh", keys: Self.keys,
                publicURL: "")
        ).replacingOccurrences(of: "/answer?t=", with: "")
        try await ConsolePagesTests.withConsole(harness, passKeys: Self.keys, now: { bus1.addingTimeInterval(10 * 60) }) { lead, marshal in
            // No account: the signed link is the key.
            let page = try await lead.get("/answer?t=\(token)&lang=vi")
            #expect(page.status == .ok)
            #expect(page.body.contains("Ai sẽ không tham gia hôm nay?"))
            #expect(page.body.contains("name=\"person-2\"") && page.body.contains("name=\"person-3\""))
            #expect(page.body.contains("bus-1 · "), "the alert's bus and time")
            #expect(
                try await lead.get("/answer?t=\(CheckinTests.pass("acme", 1).token(Self.keys))").status == .forbidden,
                "a pass is no answer link")
            #expect(try await lead.get("/answer?t=DA1.p2026.AAAA.AAAAAAAAAAAAAAAAAAAAAA").status == .forbidden)

            let answered = try await lead.post("/answer", ["t": token, "person-3": "on"])
            #expect(answered.status == .ok && answered.body.contains("id=\"answered\""))
            #expect(answered.body.contains("Cảm ơn: đã ghi nhận."), "in the language the lead chose")
            let again = try await lead.post("/answer", ["t": token, "person-3": "on"])
            #expect(again.body.contains("Không có thay đổi nào mới cần ghi nhận."))
            var declined = try await Self.published(AttendanceDeclined.self, harness)
            #expect(declined.count == 1)
            #expect(declined.first?.persons == [3] && declined.first?.source == .lead && declined.first?.registrationID == acme)
            #expect(declined.first?.day == Self.day && declined.first?.recordedBy == nil)

            // The marshal, on the lead's word by phone: delta's second.
            _ = try await marshal.login("tuan")
            let csrf = try Browser.csrf(in: try await marshal.get("/"))
            func absent(_ body: String, csrf: String?) async throws -> Browser.Page {
                var headers: HTTPFields = [:]
                if let csrf { headers[ConsoleHTTP.csrfHeader] = csrf }
                return try await marshal.request(.post, "/absences", json: Data(body.utf8), headers: headers)
            }
            let delta = ConsoleFixtures.id("delta")
            #expect(
                try await absent(#"{"registration": "\#(delta)", "day": "\#(Self.day)", "persons": [2]}"#, csrf: nil).status == .forbidden)
            #expect(
                try await absent(#"{"registration": "\#(delta)", "day": "\#(Self.day)", "persons": [9]}"#, csrf: csrf).status == .badRequest
            )
            #expect(
                try await absent(#"{"registration": "\#(delta)", "day": "2026-02-01", "persons": [2]}"#, csrf: csrf).status == .badRequest)
            #expect(try await absent(#"{"registration": "\#(delta)"}"#, csrf: csrf).status == .badRequest)
            let recorded = try await absent(#"{"registration": "\#(delta)", "day": "\#(Self.day)", "persons": [2]}"#, csrf: csrf)
            #expect(recorded.status == .ok && recorded.body.contains("[2]"))
            declined = try await Self.published(AttendanceDeclined.self, harness)
            #expect(declined.last?.source == .console && declined.last?.recordedBy == "tuan")

            // Counted out of the bus, and marked on the marshals' page.
            let status = try MessageCoding.decode(
                ConsoleQueries.CheckinStatus.self, from: Data(try await marshal.get("/checkins/status?day=\(Self.day)&bus=bus-1").body.utf8)
            )
            #expect(status.expected == 3 && status.checkedIn == 1, "acme's 3 and delta's 2, two of whom will not come")
            #expect(status.declined == ["\(acme)|3", "\(delta)|2"] && status.people == ["\(acme)|1"])
            let checkin = try await marshal.get("/checkin?day=\(Self.day)&bus=bus-1")
            #expect(
                checkin.body.contains(
                    "data-person=\"3\" data-code=\"\(CheckinTests.pass("acme", 3).shortCode(Self.keys))\" data-done=\"\" data-declined=\"1\""
                ))
            #expect(checkin.body.contains("data-departure=\"\(Int(bus1.timeIntervalSince1970 * 1000))\""))
            let audit = try await harness.read { db in
                try String.fetchAll(db, sql: "SELECT account || ': ' || outcome FROM audit WHERE action LIKE 'absence %' ORDER BY id")
            }
            #expect(audit == ["lead: declined 3", "lead: already declared", "tuan: declined 2"])
        }
    }
}
