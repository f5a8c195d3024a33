import Foundation
import GRDB
import Messages
import RegistrationsCore
import ServiceRuntime
import TestSupport
import Testing

/// `registration.erase-requested` in the registrations service, in-process: the person's data
/// leaves every table, what accounting needs stays, the answer says what was found.
@Suite struct RegistrationErasureTests {
    static let markers = ["Delegate 1", "d1.erase-me@example.cn", "li.wei.erase-me@example.cn", "+86 755 1234 5678", "E00000001"]

    static func request(_ reference: String) -> RegistrationEraseRequested {
        RegistrationEraseRequested(
            eventID: "danang-2026-01", reference: reference, requestedBy: "ops-desk", reason: .request,
            requestedAt: Samples.danang(day: 20, 9))
    }

    @Test func erasingLeavesNoPersonalDataAndKeepsWhatAccountingNeeds() async throws {
        let (harness, _) = try RegistrationRulesTests.harness()
        try await harness.send(Samples.programme())
        let accepted = try #require(try await harness.send(Samples.submission(reference: "erase-me")).of(RegistrationAccepted.self).first)
        // The relay would have published the acceptance: mark it so, as the outbox then holds it.
        try await harness.write { db in try db.execute(sql: "UPDATE outbox SET published_at = created_at") }
        let before = try await harness.read { db in try StoreText.all(in: db) }
        for marker in Self.markers where marker != "E00000001" { #expect(before.contains(marker), "the test sees \(marker) before") }

        let answers = try await harness.send(Self.request("erase-me"), correlationID: "erase-1")
        let erased = try #require(answers.of(RegistrationErased.self).first)
        #expect(erased.registrationID == accepted.registrationID && erased.service == "registrations" && erased.found)
        #expect(answers.map(\.correlationID) == ["erase-1"])

        let after = try await harness.read { db in try StoreText.all(in: db) }
        for marker in Self.markers { #expect(!after.contains(marker), "\(marker) is gone") }
        // Kept: the registration, its status and numbers, the organisation.
        let record = try #require(
            try await harness.read { db in try RegistrationStore.registration(eventID: "danang-2026-01", reference: "erase-me", in: db) })
        #expect(record.status == .accepted && record.delegateCount == 2)
        #expect(record.delegation.organisation.name == "Shenzhen Logistics Co.")
        #expect(record.delegation.delegates.allSatisfy { $0.name == Erasure.name && $0.email == nil && $0.phone == nil })
        #expect(try await harness.read { db in try RegistrationStore.identity(registrationID: record.registrationID, in: db) } == nil)

        // Twice is harmless; a reference never seen is answered too.
        #expect(try await harness.send(Self.request("erase-me")).of(RegistrationErased.self).first?.found == true)
        #expect(try await harness.send(Self.request("never-seen")).of(RegistrationErased.self).first?.found == false)
    }
}
