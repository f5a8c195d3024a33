import Foundation
import Messages
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
        #expect(Manifest.field("a, \"b\"") == "\"a, \"\"b\"\"\"")
        #expect(Manifest.field("=HYPERLINK(\"x\")") == "\"'=HYPERLINK(\"\"x\"\")\"")
        #expect(Manifest.field("@SUM(A1)") == "'@SUM(A1)")
        #expect(Manifest.field("+86 755 1234 5678") == "'+86 755 1234 5678", "a phone is not a formula")
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
