import AMQP
import Foundation
import GRDB
import Messages
import Passes
import ServiceCatalog
import ServiceRuntime
import TestSupport
import Testing

/// The day itself through the real broker and services, on the real clock, in chromium: a bus
/// leaves a minute or two from now. Before it does, a marshal checks one delegation in on its
/// lead's word and scans at the venue's gate; when it has left, the other delegation's lead
/// (and only they) gets one urgent alert, however often the console restarts (-9); the lead
/// answers through the alert's link that one delegate will not come, the marshal records another;
/// itineraries counts both out of the day, and the check-in page no longer expects them.
@Suite(.serialized) struct MissingRiderSystemTests {
    static let publicURL = "https://console.example.test"

    /// A zone where it is day now (the event's day must hold the next few hours).
    static func zone(at now: Date) -> String {
        ["Asia/Ho_Chi_Minh", "Europe/London", "America/New_York", "Pacific/Auckland"].first { identifier in
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: identifier) ?? .gmt
            return (6..<18).contains(calendar.component(.hour, from: now))
        } ?? "Asia/Ho_Chi_Minh"
    }

    /// Today in `zone`: a session at the hall that ends at `leaves` (when the bus leaves for its
    /// tour), one site open all afternoon, one bus, alerts at once after it left.
    static func programme(leaves: Date, zone: String) -> ProgrammePublished {
        var programme = Samples.programme(eventID: "missing-today")
        programme.timeZone = zone
        programme.days = [EventDay.day(leaves, zone: zone)]
        programme.registrationDeadline = nil
        let hall = programme.venues.first { !$0.isSiteVisit }
        var site = programme.venues.first { $0.isSiteVisit && $0.restrictedAccess == nil }
        site?.openingWindows = [TimeWindow(start: leaves.addingTimeInterval(-1800), end: leaves.addingTimeInterval(5 * 3600))]
        programme.venues = [hall, site].compactMap { $0 }
        programme.sessions = [
            FixedSession(
                id: "opening", title: LocalizedText(en: "Opening session"), venueID: hall?.id ?? "",
                start: leaves.addingTimeInterval(-5400),
                end: leaves)
        ]
        programme.meetingSlots = []
        programme.interpreters = []
        programme.buses = [Bus(id: "bus-1", seats: 45)]
        programme.missingRiderAlerts = MissingRiderAlerts(afterMinutes: 0)
        return programme
    }

    enum EventDay {
        static func day(_ date: Date, zone: String) -> String {
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: zone) ?? .gmt
            let day = calendar.dateComponents([.year, .month, .day], from: date)
            return String(format: "%04d-%02d-%02d", day.year ?? 0, day.month ?? 0, day.day ?? 0)
        }
    }

    static func browser(_ arguments: [String], out: URL) async throws -> [String: Any] {
        let run = try await TestBroker.run(
            "\(TestBroker.root)/.run/python/bin/python",
            ["\(TestBroker.root)/Tests/SystemTests/Browser/missing_browser.py"] + arguments + ["--out", out.path])
        return try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: out)) as? [String: Any], "the browser's report: \(run)")
    }

    @Test func theLeadOfWhoeverMissedTheBusHearsOnceAndTheirAnswersFreeTheSeats() async throws {
        try await RunningSystem.inVirtualHost("missing-riders") { system, smtp, publisher, _ in
            let now = Date()
            // The bus leaves 75 to 135 seconds from now (on a whole minute).
            let leaves = Date(timeIntervalSince1970: ((now.timeIntervalSince1970 + 75) / 60).rounded(.up) * 60)
            let zone = Self.zone(at: leaves)
            let programme = Self.programme(leaves: leaves, zone: zone)
            let day = programme.days[0]
            let passKeys = try PassKeys(spec: "p-test:" + Data(repeating: 7, count: 32).base64EncodedString())
            system.environment["CONSOLE_PASS_KEYS"] = "p-test:" + Data(repeating: 7, count: 32).base64EncodedString()
            system.environment["CONSOLE_PUBLIC_URL"] = Self.publicURL
            for service in SystemServices.all where service.name != "console" { try system.start(service.name) }
            try system.start("console", extra: ["LOG_LEVEL": "info"])  // (its port is read from the log)
            var port = try #require(await system.httpPort("console"), "the console listens")
            try await ReminderSystemTests.publish(programme, publisher, id: "programme")
            let site = try #require(programme.venues.first { $0.isSiteVisit }?.id)
            for (reference, delegates) in [("boards", 2), ("late", 3)] {
                var submission = Samples.submission(eventID: programme.eventID, reference: reference, delegates: delegates)
                submission.preferredVisits = [site]
                try await ReminderSystemTests.publish(submission, publisher, id: reference)
            }
            let boards = registrationID(eventID: programme.eventID, reference: "boards")
            let late = registrationID(eventID: programme.eventID, reference: "late")
            let planned = await RunningSystem.settle(within: 90) {
                let riders =
                    (try? system.read("console") { db in
                        try String.fetchSet(
                            db, sql: "SELECT registration_id FROM bus_visits WHERE bus_id = 'bus-1' AND day = ?", arguments: [day])
                    }) ?? []
                return (riders == [boards, late], "riding bus-1: \(riders.sorted())")
            }
            try #require(planned.settled, "both delegations on the bus: \(planned.last)")
            let passwords = system.directory.appendingPathComponent("password")
            try Data("the day itself password\n".utf8).write(to: passwords)
            let added = try await system.command(
                "console", ["users", "add", "--name", "tuan", "--role", "marshal", "--password-file", passwords.path])
            #expect(added.status == 0, "\(added.output)")
            let marshal = "tuan:the day itself password"

            // Before the bus leaves: the first delegation boards on its lead's word; at the gate,
            // a rider's code is kept and a code nobody there holds is refused.
            let expires = try #require(Pass.expiry(lastDay: day, zone: zone))
            let code = Pass(eventID: programme.eventID, registrationID: late, person: 1, expires: expires).shortCode(passKeys)
            let boarded = try await Self.browser(
                [
                    "board", "--url", "http://127.0.0.1:\(port)", "--marshal", marshal, "--day", day, "--bus", "bus-1", "--lead", boards,
                    "--gate", site, "--gate-code", code,
                ], out: system.directory.appendingPathComponent("board.json"))
            #expect(boarded["expected"] as? String == "5" && boarded["checked"] as? String == "2" && boarded["queued"] as? String == "0")
            #expect(
                (boarded["gateKept"] as? String)?.hasPrefix("Checked in:") == true && boarded["gateQueued"] as? String == "0", "\(boarded)")
            #expect((boarded["gateUnknown"] as? String)?.hasPrefix("Refused") == true, "\(boarded)")
            let arrived = try system.read("console") { db in
                try Int.fetchOne(db, sql: "SELECT count(*) FROM checkins WHERE kind = 'arrived' AND venue_id = ?", arguments: [site])
            }
            #expect(arrived == 1)
            try #require(Date() < leaves, "everyone boarded before the bus left (else the test proves nothing)")

            // Once it has left: one urgent alert, to the late delegation's lead alone.
            func alerts() -> [(id: String, registration: String, status: String)] {
                (try? system.read("notifications") { db in
                    try Row.fetchAll(db, sql: "SELECT id, registration_id, status FROM notifications WHERE kind = 'missing-at-departure'")
                        .map { ($0["id"], $0["registration_id"], $0["status"]) }
                }) ?? []
            }
            let sent = await RunningSystem.settle(within: Int(leaves.timeIntervalSinceNow) + 60) {
                let all = alerts()
                return (all.count == 1 && all[0].status == "sent", "\(all)")
            }
            try #require(sent.settled, "\(sent.last)")
            #expect(alerts().map(\.registration) == [late])
            let alert = try system.read("console") { db in
                try Data.fetchAll(db, sql: "SELECT body FROM outbox WHERE message_type = 'boarding.missed'").map {
                    try MessageCoding.decode(BoardingMissed.self, from: $0)
                }
            }
            #expect(alert.count == 1 && alert.first?.persons == [1, 2, 3] && alert.first?.departure == leaves, "\(alert)")
            // A console killed and started again raises none twice (its watcher looks at once).
            try await system.restart("console", extra: ["LOG_LEVEL": "info"])
            port = try #require(await system.httpPort("console"), "the console listens again")
            try await Task.sleep(for: .seconds(3))
            let alertRows = try system.read("console") { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM missing_alerts") }
            #expect(alertRows == 1)
            #expect(RunningSystem.receivedMessageIDs(smtp)[alerts()[0].id] == 1, "one e-mail")

            // The lead answers through the link (in Vietnamese) that their second will not come;
            // the marshal records the third on the lead's word by phone.
            let link = try #require(alert.first?.answerURL).replacingOccurrences(of: Self.publicURL, with: "http://127.0.0.1:\(port)")
            let answered = try await Self.browser(
                [
                    "answer", "--url", "http://127.0.0.1:\(port)", "--marshal", marshal, "--day", day, "--bus", "bus-1", "--link", link,
                    "--tick", "2", "--absent", late, "3",
                ], out: system.directory.appendingPathComponent("answer.json"))
            #expect(answered["title"] as? String == "Ai sẽ không tham gia hôm nay?" && answered["boxes"] as? Int == 3, "\(answered)")
            #expect((answered["answered"] as? String)?.hasPrefix("Cảm ơn") == true && answered["boxesAfter"] as? Int == 2, "\(answered)")
            #expect(answered["missingBefore"] as? String == "2" && answered["missingAfter"] as? String == "1", "\(answered)")
            #expect(answered["expectedAfter"] as? String == "3" && answered["all"] as? String == "2 / 3", "\(answered)")

            // Itineraries counts both out of the day; nobody moves.
            let counted = await RunningSystem.settle(within: 60) {
                let planning = try? system.read("itineraries") { db in
                    try String.fetchOne(db, sql: "SELECT planning FROM delegations WHERE registration_id = ?", arguments: [late])
                }
                let json = planning.flatMap { $0 }.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
                let absent = (json?["absent"] as? [String: [Int]])?[day]
                return (absent == [2, 3], "\(String(describing: absent))")
            }
            #expect(counted.settled, "\(counted.last)")
            let replanned = await RunningSystem.settle(within: 60) {
                let pending =
                    (try? system.read("itineraries") { db in
                        try Int.fetchOne(
                            db, sql: "SELECT generation - planned_generation FROM plan_inputs WHERE event_id = ?",
                            arguments: [programme.eventID])
                    }) ?? nil
                return (pending == 0, "\(String(describing: pending)) changes not planned")
            }
            #expect(replanned.settled, "\(replanned.last)")
            let tour = try ConsoleBrowserTests.latestPlan(system).tours.first { $0.day == day && $0.busID == "bus-1" }
            #expect(Set(tour?.passengers ?? []) == [boards, late], "nobody moved")
            let declared = try system.read("console") { db in
                try Row.fetchAll(db, sql: "SELECT person, source FROM absences ORDER BY person").map {
                    "\($0[0] as Int) \($0[1] as String)"
                }
            }
            #expect(declared == ["2 lead", "3 console"])
            #expect(alerts().count == 1, "still one alert")
        }
    }
}
