import Foundation
import GRDB
import HTTPTypes
import Messages
import Passes
import ServiceRuntime
import TestSupport
import Testing

@testable import ConsoleCore

/// Check-in on the day (issue 15, its first part: the console's side): scans verified against
/// the passes and the day's plan, kept once, published as `checkin.recorded`, counted per stop;
/// refused at once with the reason otherwise.
@Suite struct CheckinTests {
    typealias Browser = ConsolePagesTests.Browser
    static let keys: PassKeys = {
        do {
            return try PassKeys(spec: "p2026:" + Data(repeating: 9, count: 32).base64EncodedString())
        } catch {
            preconditionFailure("\(error)")
        }
    }()
    static let day = "2026-01-14"

    static func pass(_ reference: String, _ person: Int) -> Pass {
        let programme = ConsoleFixtures.programme()
        return Pass(
            eventID: ConsoleFixtures.eventID, registrationID: ConsoleFixtures.id(reference), person: person,
            expires: Pass.expiry(lastDay: programme.days.max() ?? "", zone: programme.timeZone) ?? .distantFuture)
    }

    /// Sends `scans` as the check-in page does; the outcomes by scan id.
    static func send(_ browser: Browser, _ scans: [Checkins.Scan], csrf: String?) async throws -> (Int, [String: Checkins.Outcome]) {
        var headers: HTTPFields = [:]
        if let csrf { headers[ConsoleHTTP.csrfHeader] = csrf }
        struct Batch: Encodable { var scans: [Checkins.Scan] }
        let page = try await browser.request(.post, "/checkins", json: try MessageCoding.encode(Batch(scans: scans)), headers: headers)
        struct Answer: Decodable { var outcomes: [Checkins.Outcome] }
        let outcomes = (try? MessageCoding.decode(Answer.self, from: Data(page.body.utf8)).outcomes) ?? []
        // (A scan sent twice in one batch: its last outcome.)
        return (page.status.code, Dictionary(outcomes.map { ($0.id, $0) }, uniquingKeysWith: { _, last in last }))
    }

    static func scan(_ id: String, pass: Pass? = nil, code: String? = nil, bus: String? = "bus-1", venue: String? = nil) -> Checkins.Scan {
        Checkins.Scan(
            id: id, pass: pass?.token(keys), code: code, day: day, bus: bus, venue: venue, scannedAt: Samples.danang(day: 14, 7, 50))
    }

    @Test func aScanIsRecordedOncePublishedAndCountedAndAWrongOneRefusedWithTheReason() async throws {
        let harness = try await ConsoleFixtures.event()
        try await ConsolePagesTests.withConsole(harness, passKeys: Self.keys, now: { Samples.danang(day: 14, 7, 55) }) { marshal, viewer in
            _ = try await marshal.login("tuan")
            let csrf = try Browser.csrf(in: try await marshal.get("/"))
            let scans = [
                Self.scan("scan-0001-acme-1", pass: Self.pass("acme", 1)),
                Self.scan("scan-0002-acme-2", code: Self.pass("acme", 2).shortCode(Self.keys).lowercased()),
                // The same scan sent again (the page was offline), and the same pass scanned twice.
                Self.scan("scan-0001-acme-1", pass: Self.pass("acme", 1)),
                Self.scan("scan-0003-acme-1", pass: Self.pass("acme", 1)),
                // On bus-2, not bus-1; a pass of nobody; an unknown code; a forged token.
                Self.scan("scan-0004-hanoi-1", pass: Self.pass("hanoi-ai", 1)),
                Self.scan("scan-0005-nobody", pass: Self.pass("nobody", 1)),
                Self.scan("scan-0006-code", code: "ZZZZZZZZ"),
                Checkins.Scan(id: "scan-0007-forged", pass: "DP1.p2026.AAAA.AAAAAAAAAAAAAAAAAAAAAA", day: Self.day, bus: "bus-1"),
            ]
            let (status, outcomes) = try await Self.send(marshal, scans, csrf: csrf)
            #expect(status == 200)
            #expect(outcomes["scan-0001-acme-1"]?.status == .duplicate, "the same scan again: one check-in")
            #expect(outcomes["scan-0002-acme-2"]?.status == .recorded)
            #expect(outcomes["scan-0003-acme-1"]?.status == .duplicate)
            #expect(outcomes["scan-0003-acme-1"]?.reason?.hasPrefix("checked in already at") == true)
            #expect(outcomes["scan-0004-hanoi-1"]?.status == .refused)
            #expect(outcomes["scan-0004-hanoi-1"]?.reason == "not expected at bus-1 on 2026-01-14: rides bus-2")
            #expect(outcomes["scan-0005-nobody"]?.status == .refused)
            #expect(outcomes["scan-0006-code"]?.reason == "no pass with the code ZZZZZZZZ is expected at bus-1 on 2026-01-14")
            #expect(outcomes["scan-0007-forged"]?.reason?.contains("not a valid pass") == true)

            let kept = try await harness.read { db in
                try Row.fetchAll(db, sql: "SELECT checkin_id, venue_id, method, marshal FROM checkins ORDER BY checkin_id").map { row in
                    [row[0], row[1], row[2], row[3]] as [String]
                }
            }
            #expect(
                kept == [
                    ["scan-0001-acme-1", "lien-chieu-port", "scan", "tuan"], ["scan-0002-acme-2", "lien-chieu-port", "code", "tuan"],
                ], "at the bus's first stop that day")
            let published = try await harness.read { db in
                try Row.fetchAll(db, sql: "SELECT message_type FROM outbox").map { $0[0] as String }.filter { $0 == "checkin.recorded" }
            }
            #expect(published.count == 2, "one message per check-in")

            let status1 = try await marshal.get("/checkins/status?day=\(Self.day)&bus=bus-1")
            let counts = try MessageCoding.decode(ConsoleQueries.CheckinStatus.self, from: Data(status1.body.utf8))
            #expect(counts.expected == 5 && counts.checkedIn == 2, "acme's 3 and delta's 2; two of acme's on board")
            #expect(counts.places.map(\.venueID) == ["lien-chieu-port", "enosta-hub"])
            #expect(counts.places.first?.checkedIn == 2)

            // Without the token, or as a viewer: refused, nothing kept.
            let (forbidden, _) = try await Self.send(marshal, [Self.scan("scan-0008-acme-3", pass: Self.pass("acme", 3))], csrf: nil)
            #expect(forbidden == 403)
            try await harness.write { db in
                try Accounts.add(name: "lan", role: .viewer, password: ConsolePagesTests.password, cost: .testing, in: db)
            }
            _ = try await viewer.login("lan")
            let viewerToken = try Browser.csrf(in: try await viewer.get("/"))
            let (refused, _) = try await Self.send(viewer, [Self.scan("scan-0009-acme-3", pass: Self.pass("acme", 3))], csrf: viewerToken)
            #expect(refused == 403)
            #expect(try await harness.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM checkins") } == 2)
        }
    }

    @Test func theMarshalsPageListsWhoIsExpectedWithTheirCodesAndWhoIsCheckedIn() async throws {
        let harness = try await ConsoleFixtures.event()
        try await ConsolePagesTests.withConsole(harness, passKeys: Self.keys, now: { Samples.danang(day: 14, 7, 55) }) { marshal, _ in
            _ = try await marshal.login("tuan")
            let csrf = try Browser.csrf(in: try await marshal.get("/"))
            _ = try await Self.send(marshal, [Self.scan("scan-0001-acme-1", pass: Self.pass("acme", 1))], csrf: csrf)
            let page = try await marshal.get("/checkin?day=\(Self.day)&bus=bus-1")
            #expect(page.status == .ok)
            #expect(page.body.contains("data-csrf=\"\(csrf)\""))
            #expect(page.body.components(separatedBy: "<tr data-registration=").count - 1 == 5, "acme's 3 and delta's 2")
            let code = Self.pass("acme", 2).shortCode(Self.keys)
            #expect(page.body.contains("data-person=\"2\" data-code=\"\(code)\" data-done=\"\""))
            #expect(page.body.contains("data-person=\"1\" data-code=\"\(Self.pass("acme", 1).shortCode(Self.keys))\" data-done=\"1\""))
            #expect(!page.body.contains(Self.pass("hanoi-ai", 1).shortCode(Self.keys)), "bus-2's riders are not on bus-1's page")
            let gate = try await marshal.get("/checkin?day=\(Self.day)&venue=enosta-hub")
            #expect(gate.body.contains(Self.pass("hanoi-ai", 1).shortCode(Self.keys)), "the gate expects everyone visiting it")
            let leaves = MissingRiderTests.departures().bus1
            #expect(page.body.contains("data-departure=\"\(Int(leaves.timeIntervalSince1970 * 1000))\""), "when bus-1 leaves the hall")
            #expect(page.body.contains("class=\"lead\" data-registration=\"\(ConsoleFixtures.id("acme"))\""))
            // The lead answers for the rest of the delegation.
            var byLead = Self.scan("scan-0010-acme-3", code: Self.pass("acme", 3).shortCode(Self.keys))
            byLead.lead = true
            let (_, outcomes) = try await Self.send(marshal, [byLead], csrf: csrf)
            #expect(outcomes["scan-0010-acme-3"]?.status == .recorded)
            let method = try await harness.read { db in
                try String.fetchOne(db, sql: "SELECT method FROM checkins WHERE checkin_id = 'scan-0010-acme-3'")
            }
            #expect(method == "lead")
            let chinese = try await marshal.get("/checkin?day=\(Self.day)&bus=bus-1&lang=zh-Hans")
            #expect(chinese.body.contains("签到"))
        }
        try await ConsolePagesTests.withConsole(try await ConsoleFixtures.event()) { marshal, _ in
            _ = try await marshal.login("tuan")
            #expect(try await marshal.get("/checkin?day=\(Self.day)&bus=bus-1").body.contains("CONSOLE_PASS_KEYS"))
        }
    }

    @Test func aGateRefusesSomeoneNotOnTheAccessListAndACopyFromTheBrokerIsKeptOnce() async throws {
        let harness = try await ConsoleFixtures.event()
        // A delegation whose second person has no identity document, visiting the port on bus-2.
        var nodoc = ConsoleFixtures.accepted("nodoc", name: "Quang Nam Trading", delegates: 2)
        nodoc.delegation.delegates[1].identityDocument = nil
        try await ConsoleFixtures.accept(harness, nodoc)
        try await harness.send(
            ConsoleFixtures.planned("nodoc", [ConsoleFixtures.visit("nodoc", bus: "bus-2", venue: "lien-chieu-port", hour: 10)]))
        let programme = ConsoleFixtures.programme()
        let outcomes = try await harness.write { db in
            try [1, 2].map { person in
                try Checkins.record(
                    Self.scan("gate-000\(person)-nodoc", pass: Self.pass("nodoc", person), bus: nil, venue: "lien-chieu-port"),
                    marshal: "tuan",
                    keys: Self.keys, programme: programme, now: Samples.danang(day: 14, 10), in: db)
            }
        }
        #expect(outcomes[0].status == .recorded)
        #expect(outcomes[1].status == .refused)
        #expect(outcomes[1].reason == "not on the access list of lien-chieu-port: no identity document on file")

        // The console's own message comes back from the broker (or a replay): kept once.
        let copy = CheckinRecorded(
            checkinID: "gate-0001-nodoc", eventID: ConsoleFixtures.eventID, registrationID: ConsoleFixtures.id("nodoc"), person: 1,
            kind: .arrived, day: Self.day, venueID: "lien-chieu-port", method: .scan, marshal: "tuan",
            scannedAt: Samples.danang(day: 14, 10))
        try await harness.send(copy)
        try await harness.send(copy, messageID: "a replayed copy")
        #expect(try await harness.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM checkins") } == 1)
    }

    @Test func anExpiredPassIsRefusedAndNoKeysMeansNoCheckIn() async throws {
        let harness = try await ConsoleFixtures.event()
        let programme = ConsoleFixtures.programme()
        var expired = Self.pass("acme", 1)
        expired.expires = Samples.danang(day: 1, 0)
        let old = expired
        let outcome = try await harness.write { db in
            try Checkins.record(
                Self.scan("scan-expired-0001", pass: old), marshal: "tuan", keys: Self.keys, programme: programme,
                now: Samples.danang(day: 14, 8), in: db)
        }
        #expect(outcome.status == .refused && outcome.reason?.contains("expired") == true)
        try await ConsolePagesTests.withConsole(harness) { marshal, _ in
            _ = try await marshal.login("tuan")
            let csrf = try Browser.csrf(in: try await marshal.get("/"))
            let (status, _) = try await Self.send(marshal, [Self.scan("scan-nokeys-0001", pass: Self.pass("acme", 1))], csrf: csrf)
            #expect(status == 503)
        }
    }
}
