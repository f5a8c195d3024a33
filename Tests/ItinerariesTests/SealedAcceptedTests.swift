import Foundation
import Messages
import ServiceRuntime
import TestSupport
import Testing

@testable import ItinerariesCore

/// `registration.accepted` with identity documents sealed to itineraries (contract 1.2): opened
/// with its key and kept under its storage key, as plain ones are; without the key, parked with
/// the reason, never planned without the documents.
@Suite struct SealedAcceptedTests {
    static func sealed(_ accepted: RegistrationAccepted, to keys: DocumentKeys) throws -> RegistrationAccepted {
        var accepted = accepted
        for index in accepted.delegation.delegates.indices {
            guard let document = accepted.delegation.delegates[index].identityDocument else { continue }
            accepted.delegation.delegates[index].sealedIdentityDocument = try SealedDocument.seal(
                document, to: try #require(keys.current), reference: accepted.reference)
            accepted.delegation.delegates[index].identityDocument = nil
        }
        return accepted
    }

    @Test func sealedDocumentsAreOpenedAndStoredLikePlainOnes() async throws {
        let (programme, all) = try ItinerariesServiceTests.seed()
        let accepted = try #require(all.first { $0.delegation.delegates.contains { $0.identityDocument != nil } })
        let (keys, _) = DocumentKeys.generate(id: "iti1")
        let vault = IdentityVault.ephemeral()
        let harness = try HandlerHarness(
            ItinerariesHandler(vault: vault, documentKeys: keys).dispatcher, migrations: ItineraryStore.migrate)
        try await harness.send(programme)
        try await harness.send(try Self.sealed(accepted, to: keys))
        let stored = try #require(
            try await harness.store.database.read { db in try ItineraryStore.identity(accepted.registrationID, in: db) })
        let documents = try vault.open(stored.ciphertext, keyID: stored.keyID, registrationID: accepted.registrationID)
        #expect(documents == accepted.delegation.delegates.map(\.identityDocument))
        let record = try #require(
            try await harness.store.database.read { db in try ItineraryStore.delegation(accepted.registrationID, in: db) })
        #expect(
            record.planning.documentKinds == accepted.delegation.delegates.map { $0.identityDocument?.kind }, "the planner sees the kinds")
    }

    @Test func withoutTheKeyTheMessageIsParkedWithTheReason() async throws {
        let (programme, all) = try ItinerariesServiceTests.seed()
        let accepted = try #require(all.first { $0.delegation.delegates.contains { $0.identityDocument != nil } })
        let (keys, _) = DocumentKeys.generate(id: "iti1")
        let harness = try HandlerHarness(ItinerariesHandler(vault: .ephemeral()).dispatcher, migrations: ItineraryStore.migrate)
        try await harness.send(programme)
        let outcome = try await harness.apply(try Self.sealed(accepted, to: keys))
        guard case .park(_, let reason, _, _) = outcome else {
            Issue.record("expected a park, got \(outcome)")
            return
        }
        #expect(reason.contains("ITINERARIES_DOCUMENT_KEYS is not set"), "\(reason)")
    }
}
