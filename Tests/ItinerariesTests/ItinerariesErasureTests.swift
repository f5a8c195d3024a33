import Foundation
import Messages
import ServiceRuntime
import TestSupport
import Testing

@testable import ItinerariesCore

/// `registration.erase-requested` in the itineraries service, in-process: the identity
/// documents go (the access lists then leave the delegation out); the plan keeps its tours.
@Suite struct ItinerariesErasureTests {
    @Test func erasingRemovesTheDocumentsAndAnswers() async throws {
        let (programme, all) = try ItinerariesServiceTests.seed()
        let accepted = try #require(all.first { $0.delegation.delegates.contains { $0.identityDocument != nil } })
        let harness = try ItinerariesRulesTests.harness()
        try await harness.send(programme)
        try await harness.send(accepted)
        #expect(try await harness.read { db in try ItineraryStore.identity(accepted.registrationID, in: db) } != nil)

        let answers = try await harness.send(
            RegistrationEraseRequested(
                eventID: accepted.eventID, reference: accepted.reference, requestedBy: "retention", reason: .retention,
                requestedAt: Date()))
        let erased = try #require(answers.of(RegistrationErased.self).first)
        #expect(erased.service == "itineraries" && erased.found && erased.registrationID == accepted.registrationID)
        #expect(try await harness.read { db in try ItineraryStore.identity(accepted.registrationID, in: db) } == nil)
        #expect(try await harness.read { db in try ItineraryStore.delegation(accepted.registrationID, in: db) }?.active == true)
    }
}
