import Foundation
import Testing

@testable import Messages

/// `SealedPersonalData` (contract 1.3): what a sealed message holds, what opens it, and what
/// does not.
@Suite struct PersonalDataTests {
    static let accepted = RegistrationAccepted(
        registrationID: registrationID(eventID: Fixtures.eventID, reference: "fixture-0001"), eventID: Fixtures.eventID,
        reference: "fixture-0001", revision: 1, delegation: Fixtures.fullDelegation, acceptedAt: Fixtures.time("2026-01-10T08:00:00+07:00"))

    @Test func aSealedMessageHoldsPlaceholdersAndOpensToThePeopleWithItsKeyOnly() throws {
        let key = DataKey.generate()
        let sealed = try Self.accepted.sealed(with: key)
        let text = String(decoding: try MessageCoding.encode(sealed), as: UTF8.self)
        for marker in ["Li Wei", "li.wei@hailian-logistics.example", "+8613800000001", "E00000001", "wheelchair", "General Manager"] {
            #expect(!text.contains(marker), "\(marker) in \(text)")
        }
        #expect(sealed.delegation.delegates.map(\.language) == Self.accepted.delegation.delegates.map(\.language))
        #expect(sealed.delegation.delegates.map(\.needsInterpreter) == Self.accepted.delegation.delegates.map(\.needsInterpreter))
        #expect(sealed.delegation.organisation == Self.accepted.delegation.organisation, "a company is not a person")
        #expect(try sealed.opened(with: key) == Self.accepted)
        #expect(try sealed.sealed(with: DataKey.generate()) == sealed, "sealed once")

        #expect(throws: SealedDocumentError.doesNotOpen) { try sealed.opened(with: DataKey.generate()) }
        var altered = sealed
        let part = try #require(sealed.sealedPersonalData)
        var bytes = try #require(Data(base64Encoded: part.sealed))
        bytes[20] ^= 1
        altered.sealedPersonalData?.sealed = bytes.base64EncodedString()
        #expect(throws: SealedDocumentError.doesNotOpen) { try altered.opened(with: key) }
        // Erased: no key, the fields read as erased.
        let erased = try sealed.opened(with: nil)
        #expect(erased.delegation.leadContact.email == Erasure.email && erased.sealedPersonalData == nil)
        #expect(erased.delegation == Self.accepted.delegation.anonymised)
    }

    @Test func theDataKeyExampleOpensTheRecordedExampleToTheSubmissionExample() throws {
        let announcement = try MessageCoding.decode(RegistrationDataKey.self, from: Contracts.example(.registrationDataKey))
        let recorded = try MessageCoding.decode(RegistrationRecorded.self, from: Contracts.example(.registrationRecorded))
        let submitted = try MessageCoding.decode(RegistrationSubmitted.self, from: Contracts.example(.registrationSubmitted))
        #expect(announcement.registrationID == recorded.registrationID)
        #expect(recorded.registrationID == registrationID(eventID: submitted.eventID, reference: submitted.reference))
        let key = try #require(announcement.key.flatMap { DataKey(base64: $0) })
        #expect(try recorded.opened(with: key).submission == submitted)
    }

    @Test func keysAreThirtyTwoBytes() {
        #expect(DataKey(base64: Data(count: 16).base64EncodedString()) == nil)
        #expect(DataKey(base64: "not base64") == nil)
        #expect(DataKey(base64: DataKey.generate().base64) != nil)
    }
}
