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

/// Contract 1.3: the personal fields of `registration.accepted` sealed under the registration's
/// own data key. The key comes in `registration.data-key`; a message that overtakes its key waits
/// (retried, not parked); after erasure the key is gone for good, and a replayed copy reads as
/// erased.
@Suite struct SealedPersonalDataTests {
    @Test func theKeyThatComesOpensTheFieldsAndErasureForgetsItForGood() async throws {
        let (programme, all) = try ItinerariesServiceTests.seed()
        let accepted = try #require(all.first { $0.delegation.delegates.contains { $0.identityDocument != nil } })
        let key = DataKey.generate()
        let sealed = try accepted.sealed(with: key)
        #expect(sealed.sealedPersonalData != nil && sealed.delegation.delegates.allSatisfy { $0.identityDocument == nil })
        let vault = IdentityVault.ephemeral()
        let harness = try HandlerHarness(ItinerariesHandler(vault: vault).dispatcher, migrations: ItineraryStore.migrate)
        try await harness.send(programme)

        let early = try await harness.apply(sealed, messageID: "accepted-1")
        guard case .retry(let reason) = early else {
            Issue.record("a message ahead of its key waits for it, got \(early)")
            return
        }
        #expect(reason.contains("registration.data-key has not arrived"), "\(reason)")
        let announcement = RegistrationDataKey(
            eventID: accepted.eventID, registrationID: accepted.registrationID, key: key.base64, issuedAt: Date())
        try await harness.send(announcement)
        try await harness.send(sealed, messageID: "accepted-1", attempt: 2)
        let stored = try #require(
            try await harness.read { db in try ItineraryStore.identity(accepted.registrationID, in: db) })
        #expect(
            try vault.open(stored.ciphertext, keyID: stored.keyID, registrationID: accepted.registrationID)
                == accepted.delegation.delegates.map(\.identityDocument), "the documents inside the sealed fields are kept")

        try await harness.send(
            RegistrationEraseRequested(
                eventID: accepted.eventID, reference: accepted.reference, requestedBy: "test", reason: .request, requestedAt: Date()))
        try await harness.send(announcement)  // (a late copy of the key)
        #expect(try await harness.read { db in try DataKeys.state(accepted.registrationID, in: db) } == .erased)
        // A replayed copy: applied, with nobody's data.
        try await harness.send(sealed, messageID: "accepted-replayed")
        #expect(try await harness.read { db in try ItineraryStore.identity(accepted.registrationID, in: db) } == nil)
    }

    @Test func aServiceThatReadsNoPersonalDataParksASealedMessageWithTheReason() async throws {
        var router = MessageRouter<String>()
        router.on(RegistrationAccepted.self) { _, _, _ in [] }
        let harness = try HandlerHarness(router.dispatcher(for: "plain"), migrations: { _ in })
        let (_, all) = try ItinerariesServiceTests.seed()
        let outcome = try await harness.apply(try #require(all.first).sealed(with: DataKey.generate()))
        guard case .park(_, let reason, _, _) = outcome else {
            Issue.record("expected a park, got \(outcome)")
            return
        }
        #expect(reason.contains("sealed personal data, which this service does not read"), "\(reason)")
    }
}
