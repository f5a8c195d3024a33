import Foundation
import GRDB
import Messages
import RegistrationsCore
import ServiceRuntime
import TestSupport
import Testing

/// Identity documents sealed with HPKE (contract 1.2): the format itself, the Python example
/// integrations copy (pyhpke from PyPI), and the registrations rules with sealed and plain
/// documents, in-process through the handler's entry point.
@Suite struct SealedDocumentTests {
    static let passport = IdentityDocument(
        kind: .passport, number: "E12345678", issuingCountry: "CN", fullName: "ZHANG WEI", dateOfBirth: "1979-03-02",
        expiresOn: "2031-01-01")

    @Test func aSealedDocumentOpensOnlyWithItsKeyForItsReferenceAndUnaltered() throws {
        let (keys, _) = DocumentKeys.generate(id: "r1")
        let (other, _) = DocumentKeys.generate(id: "r1")
        let sealed = try SealedDocument.seal(Self.passport, to: try #require(keys.current), reference: "NIC-42")
        #expect(try sealed.open(with: keys, reference: "NIC-42") == Self.passport)
        #expect(!String(decoding: try MessageCoding.encode(sealed), as: UTF8.self).contains("E12345678"))

        #expect(throws: SealedDocumentError.doesNotOpen) { try sealed.open(with: keys, reference: "NIC-43") }
        #expect(throws: SealedDocumentError.doesNotOpen) { try sealed.open(with: other, reference: "NIC-42") }
        #expect(throws: SealedDocumentError.unknownKey("r1")) {
            try sealed.open(with: try DocumentKeys(spec: Self.spec("r2")), reference: "NIC-42")
        }
        var altered = sealed
        var bytes = try #require(Data(base64Encoded: sealed.ciphertext))
        bytes[3] ^= 1
        altered.ciphertext = bytes.base64EncodedString()
        #expect(throws: SealedDocumentError.doesNotOpen) { try altered.open(with: keys, reference: "NIC-42") }
        altered = sealed
        altered.enc = "not base64"
        #expect(throws: SealedDocumentError.malformed) { try altered.open(with: keys, reference: "NIC-42") }
        altered = sealed
        altered.suite = "hpke-p256-sha256-aes128gcm"
        #expect(throws: SealedDocumentError.unsupportedSuite("hpke-p256-sha256-aes128gcm")) {
            try altered.open(with: keys, reference: "NIC-42")
        }
        // Keys given wrongly are refused with the key's id, never the key.
        #expect(throws: DocumentKeyError.length("k")) { try DocumentKeys(spec: "k:AAAA") }
        #expect(throws: DocumentKeyError.format) { try DocumentKeys(spec: "no key here") }
    }

    /// A rotation: the new key first, the old one after it; documents sealed to either open,
    /// and the public key given out is the new one.
    @Test func duringARotationDocumentsSealedToTheOldKeyStillOpen() throws {
        let (old, oldSpec) = DocumentKeys.generate(id: "r2025")
        let (_, newSpec) = DocumentKeys.generate(id: "r2026")
        let rotated = try DocumentKeys(spec: "\(newSpec),\(oldSpec)")
        #expect(rotated.current?.id == "r2026")
        let sealedToOld = try SealedDocument.seal(Self.passport, to: try #require(old.current), reference: "NIC-1")
        #expect(try sealedToOld.open(with: rotated, reference: "NIC-1") == Self.passport)
        let sealedToNew = try SealedDocument.seal(Self.passport, to: try #require(rotated.current), reference: "NIC-1")
        #expect(try sealedToNew.open(with: rotated, reference: "NIC-1") == Self.passport)
        #expect(throws: DocumentKeyError.duplicate("r2026")) { try DocumentKeys(spec: "\(newSpec),\(newSpec)") }
    }

    static func spec(_ id: String) -> String { DocumentKeys.generate(id: id).privateSpec }

    /// The example in docs/contracts seals with pyhpke; the service opens it.
    @Test func theDocumentSealedByThePythonExampleOpensInTheService() async throws {
        let (keys, _) = DocumentKeys.generate(id: "r2026")
        let folder = try TemporaryFolder("seal")
        defer { withExtendedLifetime(folder) {} }
        let input = folder.url.appendingPathComponent("document.json")
        try MessageCoding.encode(Self.passport).write(to: input)
        let python = "\(TestBroker.root)/.run/python/bin/python"
        #expect(FileManager.default.isExecutableFile(atPath: python), "deploy/test makes it: pyhpke from PyPI in .run/python")
        let output = try await TestBroker.run(
            "/bin/sh",
            [
                "-c", "\"$0\" \"$1\" --key \"$2\" --reference NIC-2026-0042 < \"$3\"", python,
                "\(TestBroker.root)/docs/contracts/examples/seal_identity_document.py", try #require(keys.current?.spec), input.path,
            ])
        let sealed = try MessageCoding.decode(SealedDocument.self, from: Data(output.utf8))
        #expect(sealed.keyID == "r2026" && sealed.suite == SealedDocument.suiteName)
        #expect(try sealed.open(with: keys, reference: "NIC-2026-0042") == Self.passport)
        #expect(throws: SealedDocumentError.doesNotOpen) { try sealed.open(with: keys, reference: "NIC-2026-0043") }
    }

    static func harness(_ sealing: DocumentSealing) throws -> HandlerHarness {
        try HandlerHarness(
            RegistrationsHandler(vault: .ephemeral(), keys: try DataKeyStore(), sealing: sealing).dispatcher,
            migrations: RegistrationStore.migrate)
    }

    /// The sample submission with its documents sealed to `keys` (or left plain).
    static func submission(reference: String, sealedTo keys: DocumentKeys?) throws -> RegistrationSubmitted {
        var submission = Samples.submission(reference: reference)
        guard let key = keys?.current else { return submission }
        for index in submission.delegates.indices {
            let document = try #require(submission.delegates[index].identityDocument)
            submission.delegates[index].sealedIdentityDocument = try SealedDocument.seal(document, to: key, reference: reference)
            submission.delegates[index].identityDocument = nil
        }
        return submission
    }

    @Test func sealedDocumentsAreOpenedAndSealedAgainForItinerariesAndTheConsoleNeverPassedOnInPlainText() async throws {
        let (mine, _) = DocumentKeys.generate(id: "reg1")
        let (itineraries, _) = DocumentKeys.generate(id: "iti1")
        let (console, _) = DocumentKeys.generate(id: "con1")
        let harness = try Self.harness(
            DocumentSealing(keys: mine, itineraries: itineraries.current, console: console.current, requireSealed: true))
        try await harness.send(Samples.programme())
        var submission = try Self.submission(reference: "sealed", sealedTo: mine)
        // Copies are the service's to make: one an integration sends is dropped.
        submission.delegates[0].sealedIdentityDocumentCopies = [try #require(submission.delegates[1].sealedIdentityDocument)]
        let emitted = try await harness.send(submission)
        // (Its personal fields are sealed under the registration's key, which comes first.)
        let key = try #require(emitted.of(RegistrationDataKey.self).first?.key.flatMap { DataKey(base64: $0) })
        let accepted = try #require(emitted.of(RegistrationAccepted.self).first).opened(with: key)
        #expect(emitted.allSatisfy { !String(decoding: $0.body, as: UTF8.self).contains("E00000001") }, "no document number in clear")
        for delegate in accepted.delegation.delegates {
            #expect(delegate.identityDocument == nil)
            let sealed = try #require(delegate.sealedIdentityDocument)
            #expect(sealed.keyID == "iti1")
            #expect(try sealed.open(with: itineraries, reference: "sealed").number.hasPrefix("E0000000"))
            let copy = try #require(delegate.sealedCopy(for: console))
            #expect(delegate.sealedIdentityDocumentCopies?.count == 1)
            #expect(try copy.open(with: console, reference: "sealed") == (try sealed.open(with: itineraries, reference: "sealed")))
            #expect(delegate.sealedCopy(for: itineraries) == nil)
        }
    }

    @Test func plainDocumentsAreRefusedWhenSealedOnesAreRequiredAndUnreadableOnesAlways() async throws {
        let (mine, _) = DocumentKeys.generate(id: "reg1")
        let strict = try Self.harness(DocumentSealing(keys: mine, requireSealed: true))
        try await strict.send(Samples.programme())
        let plain = try await strict.send(try Self.submission(reference: "plain", sealedTo: nil))
        let refused = try #require(plain.of(RegistrationRejected.self).first)
        #expect(refused.issues.map(\.code) == ["plain_identity_document", "plain_identity_document"])
        #expect(refused.issues.map(\.path) == ["delegates[0].identityDocument", "delegates[1].identityDocument"])

        // Sealed for another reference, or to a key this service does not hold: a clear issue,
        // never a parked message.
        var moved = try Self.submission(reference: "other", sealedTo: mine)
        moved.reference = "moved"
        let unreadable = try #require(try await strict.send(moved).of(RegistrationRejected.self).first)
        #expect(unreadable.issues.first?.code == "sealed_document_unreadable")
        #expect(unreadable.issues.first?.message.contains("does not open") == true)
        let (stranger, _) = DocumentKeys.generate(id: "elsewhere")
        let wrongKey = try #require(
            try await strict.send(try Self.submission(reference: "k", sealedTo: stranger)).of(RegistrationRejected.self).first)
        #expect(wrongKey.issues.first?.message.contains("'elsewhere'") == true)

        // Without the requirement, plain documents are accepted as before (contract 1.1).
        let lenient = try Self.harness(DocumentSealing(keys: mine))
        try await lenient.send(Samples.programme())
        #expect(try await lenient.send(try Self.submission(reference: "plain", sealedTo: nil)).of(RegistrationAccepted.self).count == 1)
    }
}
