import Foundation
import GRDB
import Messages
import Passes
import TestSupport
import Testing

@testable import ConsoleCore

/// Bus manifests for the transport company and the marshals: who rides, with the columns the
/// organiser chooses, the stops each gets off at; as a page and as CSV.
@Suite struct ManifestTests {
    static func manifest() async throws -> (Manifest, BusTimeline) {
        let timeline = try await BusTimelineTests.timeline()
        let harness = try await ConsoleFixtures.event()
        let people = try await harness.read { db in try ConsoleQueries.people(eventID: ConsoleFixtures.eventID, in: db) }
        let bus = try #require(timeline.busDays(on: "2026-01-14").first)
        return (Manifest(bus: bus, people: people), timeline)
    }

    @Test func everyRiderIsListedWithTheStopsTheyGetOffAt() async throws {
        let (manifest, _) = try await Self.manifest()
        #expect(manifest.bus.busID == "bus-1")
        #expect(manifest.rows.count == 5, "3 people of one delegation and 2 of the other")
        #expect(Set(manifest.rows.map(\.organisation)) == ["Shenzhen Logistics Co.", "Guangxi Port Group"])
        #expect(manifest.rows.allSatisfy { $0.stops == [true, true] })
        #expect(manifest.rows.allSatisfy { $0.hasDocument }, "the sample delegates have passports on file")
        #expect(manifest.value(.lead, of: manifest.rows[0]) == "Li Wei, +86 755 1234 5678")
    }

    @Test func theColumnsAreTheChosenOnesInTheirOrder() {
        #expect(Manifest.columns([]) == Manifest.defaultColumns)
        #expect(Manifest.columns(["phone", "name", "phone", "nonsense"]) == [.phone, .name])
        #expect(Manifest.columns(["nonsense"]) == Manifest.defaultColumns)
    }

    @Test func theCSVIsQuotedGuardedAgainstFormulasAndReadableAsUTF8() async throws {
        let (manifest, timeline) = try await Self.manifest()
        let csv = Manifest.csv(
            [manifest], columns: [.organisation, .name, .lead], headings: ["bus", "organisation", "name", "lead", "stops"]
        ) {
            "\(timeline.clock($0.arrival)) \($0.venue)"
        }
        #expect(csv.hasPrefix("\u{FEFF}bus,organisation,name,lead,stops\r\n"))
        let lines = csv.dropFirst().components(separatedBy: "\r\n").filter { !$0.isEmpty }
        #expect(lines.count == 6)
        #expect(lines.dropFirst().allSatisfy { $0.hasPrefix("bus-1,") })
        #expect(lines[1].contains(",\"Li Wei, +86 755 1234 5678\","), "a field with a comma is quoted: \(lines[1])")
        #expect(lines[1].hasSuffix("08:00 Lien Chieu Port; 13:00 Enosta Space – Da Nang Innovation Hub"))
        #expect(CSVField.escaped("a, \"b\"") == "\"a, \"\"b\"\"\"")
        #expect(CSVField.escaped("=HYPERLINK(\"x\")") == "\"'=HYPERLINK(\"\"x\"\")\"")
        #expect(CSVField.escaped("@SUM(A1)") == "'@SUM(A1)")
        #expect(CSVField.escaped("+86 755 1234 5678") == "'+86 755 1234 5678", "a phone is not a formula")
    }

    @Test func aMarshalPrintsAndDownloadsTheManifest() async throws {
        let harness = try await ConsoleFixtures.event()
        try await ConsolePagesTests.withConsole(harness) { _, marshal in
            _ = try await marshal.login("tuan")
            let page = try await marshal.get("/manifests?day=2026-01-14&bus=bus-1&col=name&col=lead&col=interpreter")
            #expect(page.status == .ok)
            #expect(page.body.contains("<section class=\"manifest\" data-bus=\"bus-1\">"))
            #expect(!page.body.contains("<section class=\"manifest\" data-bus=\"bus-2\">"), "only the bus asked for")
            #expect(page.body.contains("Li Wei, +86 755 1234 5678"))
            #expect(page.body.contains("/manifests.csv?day=2026-01-14&amp;bus=bus-1&amp;cols=name,lead,interpreter"))
            let csv = try await marshal.get("/manifests.csv?day=2026-01-14&bus=bus-1&cols=name,phone")
            #expect(csv.status == .ok)
            #expect(csv.headers[.contentType] == "text/csv; charset=utf-8")
            #expect(csv.headers[.contentDisposition] == "attachment; filename=\"manifest-2026-01-14-bus-1.csv\"")
            #expect(csv.body.hasPrefix("\u{FEFF}Bus,Name,Phone,Gets off at\r\n"))
            #expect(csv.body.components(separatedBy: "\r\n").filter { $0.hasPrefix("bus-1,") }.count == 5)
            let everyone = try await marshal.get("/manifests.csv?day=2026-01-14")
            #expect(everyone.body.components(separatedBy: "\r\n").filter { $0.hasPrefix("bus-2,") }.count == 4)
            let audit = try await harness.read { db in try Accounts.auditLog(in: db) }
            #expect(audit.contains { $0.account == "tuan" && $0.action == "manifest download" })
        }
    }
}

/// The riders' passes on the manifests: a QR code each on the page, the short code in the CSV.
@Suite struct ManifestPassTests {
    @Test func eachRiderHasTheirPassWhereTheConsoleHasTheKeys() async throws {
        let harness = try await ConsoleFixtures.event()
        let keys = try PassKeys(spec: "p2026:" + Data(repeating: 9, count: 32).base64EncodedString())
        let programme = ConsoleFixtures.programme()
        let lastDay = try #require(programme.days.max())
        let expires = try #require(Pass.expiry(lastDay: lastDay, zone: programme.timeZone))
        let codes = (1...3).map {
            Pass(eventID: ConsoleFixtures.eventID, registrationID: ConsoleFixtures.id("acme"), person: $0, expires: expires).shortCode(keys)
        }
        try await ConsolePagesTests.withConsole(harness, passKeys: keys) { marshal, _ in
            _ = try await marshal.login("tuan")
            let page = try await marshal.get("/manifests?day=2026-01-14&bus=bus-1&col=name&col=pass")
            #expect(page.body.contains("value=\"pass\""), "offered")
            for code in codes { #expect(page.body.contains(code)) }
            #expect(page.body.components(separatedBy: "<svg").count - 1 == 5, "a QR code for each of the 5 riders")
            let csv = try await marshal.get("/manifests.csv?day=2026-01-14&bus=bus-1&cols=name,pass")
            #expect(csv.body.contains("bus-1,Delegate 1,\(codes[0]),"))
        }
        try await ConsolePagesTests.withConsole(try await ConsoleFixtures.event()) { marshal, _ in
            _ = try await marshal.login("tuan")
            let page = try await marshal.get("/manifests?day=2026-01-14&bus=bus-1&col=name&col=pass")
            #expect(!page.body.contains("value=\"pass\"") && !page.body.contains("<svg"), "no keys, no passes")
        }
    }
}

/// Identity document numbers in the manifests: kept only sealed to the console's key, shown only
/// to an account with the personal-data role, every showing audited.
@Suite struct ManifestDocumentTests {
    static let keys = DocumentKeys.generate(id: "c2026").keys

    /// acme's documents arrive as registrations sends them with the console's key set: sealed to
    /// itineraries, a copy sealed to the console; delta's in plain text (registrations without
    /// itineraries' key), which the console seals to itself before keeping them.
    static func event() async throws -> HandlerHarness {
        let harness = try ConsoleFixtures.harness(documentKeys: keys)
        try await harness.send(ConsoleFixtures.programme())
        let itineraries = try #require(DocumentKeys.generate(id: "i2026").keys.current)
        var acme = ConsoleFixtures.accepted("acme", name: "Shenzhen Logistics Co.", delegates: 2)
        for index in acme.delegation.delegates.indices {
            var document = try #require(acme.delegation.delegates[index].identityDocument)
            document.number = "A1000000\(index + 1)"
            acme.delegation.delegates[index].identityDocument = nil
            acme.delegation.delegates[index].sealedIdentityDocument = try SealedDocument.seal(document, to: itineraries, reference: "acme")
            acme.delegation.delegates[index].sealedIdentityDocumentCopies = [
                try SealedDocument.seal(document, to: try #require(keys.current), reference: "acme")
            ]
        }
        try await ConsoleFixtures.accept(harness, acme)
        try await ConsoleFixtures.accept(harness, ConsoleFixtures.accepted("delta", name: "Guangxi Port Group", delegates: 2))
        for reference in ["acme", "delta"] {
            try await harness.send(
                ConsoleFixtures.planned(reference, [ConsoleFixtures.visit(reference, bus: "bus-1", venue: "lien-chieu-port", hour: 8)]))
        }
        return harness
    }

    static let numbers = ["A10000001", "A10000002", "E00000001", "E00000002"]

    @Test func onlyThePersonalDataRoleSeesDocumentNumbersAndEachShowingIsAudited() async throws {
        let harness = try await Self.event()
        try await ConsolePagesTests.withConsole(harness, documentKeys: Self.keys) { organiser, marshal in
            _ = try await organiser.login("mai")
            let page = try await organiser.get("/manifests?day=2026-01-14&bus=bus-1&col=name&col=document-number")
            #expect(page.status == .ok)
            #expect(page.body.contains("Delegate 1"))
            #expect(!page.body.contains("value=\"document-number\""), "the column is not offered")
            #expect(Self.numbers.allSatisfy { !page.body.contains($0) }, "an organiser without the role sees no number")
            let csv = try await organiser.get("/manifests.csv?day=2026-01-14&bus=bus-1&cols=name,document-number")
            #expect(csv.body.hasPrefix("\u{FEFF}Bus,Name,Gets off at\r\n"))
            #expect(Self.numbers.allSatisfy { !csv.body.contains($0) })

            _ = try await marshal.login("an")
            let shown = try await marshal.get("/manifests?day=2026-01-14&bus=bus-1&col=name&col=document-number")
            #expect(shown.body.contains("value=\"document-number\""))
            for number in Self.numbers { #expect(shown.body.contains("passport \(number) (CN, 2031-01-01)"), "\(number)") }
            let without = try await marshal.get("/manifests?day=2026-01-14&bus=bus-1&col=name")
            #expect(Self.numbers.allSatisfy { !without.body.contains($0) }, "numbers only when their column is chosen")
            let download = try await marshal.get("/manifests.csv?day=2026-01-14&bus=bus-1&cols=name,document-number")
            #expect(download.body.hasPrefix("\u{FEFF}Bus,Name,Document number,Gets off at\r\n"))
            #expect(download.body.contains("bus-1,Delegate 1,\"passport A10000001 (CN, 2031-01-01)\",08:00 Lien Chieu Port"))

            let audit = try await harness.read { db in try Accounts.auditLog(in: db) }
            let shownTo = audit.filter { $0.outcome == "document numbers shown" }
            #expect(shownTo.map(\.account) == ["an", "an"], "the page and the download; the other views showed none")
            #expect(shownTo.map(\.action).sorted() == ["manifest download", "manifest view"])
        }
    }

    @Test func withoutTheConsolesKeyNoNumberIsShownEvenToThePersonalDataRole() async throws {
        let harness = try await Self.event()
        try await ConsolePagesTests.withConsole(harness) { browser, _ in
            _ = try await browser.login("an")
            let page = try await browser.get("/manifests?day=2026-01-14&bus=bus-1&col=name&col=document-number")
            #expect(!page.body.contains("value=\"document-number\""))
            #expect(Self.numbers.allSatisfy { !page.body.contains($0) })
        }
    }

    @Test func theStoreHoldsNoNumberInPlainTextAndACancellationOrErasureDropsThem() async throws {
        let harness = try await Self.event()
        func sealed() async throws -> [String: Bool] {
            try await harness.read { db in
                Dictionary(
                    uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT reference, sealed_documents FROM registrations").map { row in
                        (row["reference"] as String, (row["sealed_documents"] as String?) != nil)
                    })
            }
        }
        #expect(try await sealed() == ["acme": true, "delta": true])
        let text = try await harness.read { db in try StoreText.all(in: db) }
        #expect(text.contains("Delegate 1"), "the people are there, opened")
        for number in Self.numbers { #expect(!text.contains(number), "\(number) in the store") }

        try await harness.send(
            RegistrationCancelled(
                registrationID: ConsoleFixtures.id("acme"), eventID: ConsoleFixtures.eventID, reference: "acme", reason: "plans changed",
                delegation: Samples.submission(reference: "acme", delegates: 2).delegation, cancelledAt: Samples.danang(day: 8, 9)))
        try await harness.send(
            RegistrationEraseRequested(
                eventID: ConsoleFixtures.eventID, reference: "delta", requestedBy: "dpo", reason: .request, requestedAt: Date()))
        #expect(try await sealed() == ["acme": false, "delta": false])
    }
}
