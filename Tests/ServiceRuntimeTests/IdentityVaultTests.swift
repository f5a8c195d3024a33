import Crypto
import Foundation
import Messages
import ServiceRuntime
import Testing

/// A key spec `IdentityVault` must refuse, and what its error must say.
struct BadKeySpec: Sendable, CustomTestStringConvertible {
    var problem: String
    var spec: String
    /// Words the error must contain (case-insensitive).
    var mentions: [String]

    var testDescription: String { problem }
}

@Suite struct IdentityVaultTests {
    /// A fresh AES-256 key, base64-encoded as the `…_IDENTITY_KEYS` settings take it.
    static func newKey() -> String { SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }.base64EncodedString() }

    static let key2025 = newKey()
    static let key2026 = newKey()

    static let documents: [IdentityDocument?] = [
        IdentityDocument(
            kind: .passport, number: "E12345678", issuingCountry: "CN", fullName: "LI WEI", dateOfBirth: "1980-05-01",
            expiresOn: "2031-01-01"),
        nil,
        IdentityDocument(
            kind: .nationalID, number: "079123456789", issuingCountry: "VN", fullName: "NGUYỄN VĂN AN", expiresOn: "2035-06-30"),
    ]

    // MARK: Sealing

    @Test func sealedDocumentsOpenAsTheyWere() throws {
        let vault = try IdentityVault(spec: "k2026:\(Self.key2026)")
        let sealed = try vault.seal(Self.documents, registrationID: "reg-1")
        #expect(sealed.keyID == "k2026")
        #expect(try vault.open(sealed.ciphertext, keyID: sealed.keyID, registrationID: "reg-1") == Self.documents)
    }

    @Test func ciphertextHoldsNoDocumentDataInTheClear() throws {
        let vault = try IdentityVault(spec: "k2026:\(Self.key2026)")
        let ciphertext = try vault.seal(Self.documents, registrationID: "reg-1").ciphertext
        for clear in ["E12345678", "079123456789", "LI WEI", "NGUYỄN", "passport", "1980-05-01"] {
            #expect(ciphertext.range(of: Data(clear.utf8)) == nil, "'\(clear)' is readable in the ciphertext")
        }
    }

    @Test func everySealUsesAFreshNonce() throws {
        let vault = try IdentityVault(spec: "k2026:\(Self.key2026)")
        let first = try vault.seal(Self.documents, registrationID: "reg-1").ciphertext
        let second = try vault.seal(Self.documents, registrationID: "reg-1").ciphertext
        #expect(first != second)
        #expect(first.prefix(12) != second.prefix(12))
    }

    @Test func ciphertextMovedToAnotherRegistrationDoesNotOpen() throws {
        let vault = try IdentityVault(spec: "k2026:\(Self.key2026)")
        let sealed = try vault.seal(Self.documents, registrationID: "reg-1")
        #expect(throws: CryptoKitError.self) {
            try vault.open(sealed.ciphertext, keyID: sealed.keyID, registrationID: "reg-2")
        }
    }

    @Test func tamperedCiphertextDoesNotOpen() throws {
        let vault = try IdentityVault(spec: "k2026:\(Self.key2026)")
        var ciphertext = try vault.seal(Self.documents, registrationID: "reg-1").ciphertext
        ciphertext[ciphertext.startIndex + 20] ^= 0x01
        #expect(throws: CryptoKitError.self) {
            try vault.open(ciphertext, keyID: "k2026", registrationID: "reg-1")
        }
    }

    @Test func sameKeyIDWithOtherKeyMaterialDoesNotOpen() throws {
        let sealed = try IdentityVault(spec: "k1:\(Self.key2025)").seal(Self.documents, registrationID: "reg-1")
        let impostor = try IdentityVault(spec: "k1:\(Self.key2026)")
        #expect(throws: CryptoKitError.self) {
            try impostor.open(sealed.ciphertext, keyID: "k1", registrationID: "reg-1")
        }
    }

    @Test func ephemeralVaultsRoundTripButDoNotShareKeys() throws {
        let vault = IdentityVault.ephemeral()
        let sealed = try vault.seal(Self.documents, registrationID: "reg-1")
        #expect(try vault.open(sealed.ciphertext, keyID: sealed.keyID, registrationID: "reg-1") == Self.documents)
        #expect(throws: (any Error).self) {
            try IdentityVault.ephemeral().open(sealed.ciphertext, keyID: sealed.keyID, registrationID: "reg-1")
        }
    }

    // MARK: Key spec

    @Test func currentKeyIsTheFirstInTheSpec() throws {
        #expect(try IdentityVault(spec: "k2026:\(Self.key2026),k2025:\(Self.key2025)").currentKeyID == "k2026")
        #expect(try IdentityVault(spec: "k2025:\(Self.key2025),k2026:\(Self.key2026)").currentKeyID == "k2025")
        #expect(try IdentityVault(spec: "only:\(Self.key2026)").currentKeyID == "only")
    }

    static let badSpecs: [BadKeySpec] = [
        BadKeySpec(problem: "empty spec", spec: "", mentions: ["no key"]),
        BadKeySpec(problem: "only commas", spec: ",,", mentions: ["no key"]),
        BadKeySpec(problem: "key without an id", spec: key2026, mentions: ["id:base64"]),
        BadKeySpec(problem: "empty id", spec: ":\(key2026)", mentions: ["id:base64"]),
        BadKeySpec(problem: "key that is not base64", spec: "k1:not*base64!", mentions: ["'k1'", "base64"]),
        BadKeySpec(
            problem: "16-byte key", spec: "k1:\(SymmetricKey(size: .bits128).withUnsafeBytes { Data($0) }.base64EncodedString())",
            mentions: ["'k1'", "32 bytes"]),
        BadKeySpec(
            problem: "64-byte key", spec: "k1:\(Data(repeating: 7, count: 64).base64EncodedString())", mentions: ["'k1'", "32 bytes"]),
        BadKeySpec(problem: "second key is bad", spec: "k2026:\(key2026),k2025:short", mentions: ["'k2025'", "32 bytes"]),
        BadKeySpec(problem: "duplicate id", spec: "k1:\(key2026),k1:\(key2025)", mentions: ["'k1'", "twice"]),
    ]

    @Test(arguments: badSpecs)
    func badKeySpecIsRefusedWithItsReason(_ bad: BadKeySpec) throws {
        let error = try #require(throws: IdentityVault.VaultError.self) { try IdentityVault(spec: bad.spec) }
        guard case .badKeySpec = error else {
            Issue.record("expected badKeySpec, got \(error)")
            return
        }
        let text = String(describing: error)
        for word in bad.mentions {
            #expect(text.localizedCaseInsensitiveContains(word), "'\(text)' does not mention \(word)")
        }
        for secret in [Self.key2025, Self.key2026] {
            #expect(!text.contains(secret), "the error echoes key material")
        }
    }

    // MARK: Rotation

    @Test func rotationOpensOldCiphertextsAndResealsUnderTheNewKey() throws {
        let before = try IdentityVault(spec: "k2025:\(Self.key2025)")
        let old = try before.seal(Self.documents, registrationID: "reg-7")
        #expect(old.keyID == "k2025")

        let rotated = try IdentityVault(spec: "k2026:\(Self.key2026),k2025:\(Self.key2025)")
        let documents = try rotated.open(old.ciphertext, keyID: old.keyID, registrationID: "reg-7")
        #expect(documents == Self.documents)

        let resealed = try rotated.seal(documents, registrationID: "reg-7")
        #expect(resealed.keyID == "k2026")
        #expect(try rotated.open(resealed.ciphertext, keyID: resealed.keyID, registrationID: "reg-7") == Self.documents)

        // Once the old key is dropped, only the re-sealed row still opens.
        let after = try IdentityVault(spec: "k2026:\(Self.key2026)")
        #expect(try after.open(resealed.ciphertext, keyID: resealed.keyID, registrationID: "reg-7") == Self.documents)
        #expect(throws: IdentityVault.VaultError.self) { try after.open(old.ciphertext, keyID: old.keyID, registrationID: "reg-7") }
    }

    @Test func openingWithAKeyIDTheVaultLacksNamesThatID() throws {
        let vault = try IdentityVault(spec: "k2026:\(Self.key2026)")
        let sealed = try IdentityVault(spec: "k2024:\(Self.key2025)").seal(Self.documents, registrationID: "reg-1")
        let error = try #require(throws: IdentityVault.VaultError.self) {
            try vault.open(sealed.ciphertext, keyID: "k2024", registrationID: "reg-1")
        }
        guard case .unknownKey(let id) = error else {
            Issue.record("expected unknownKey, got \(error)")
            return
        }
        #expect(id == "k2024")
        #expect(String(describing: error).contains("'k2024'"))
    }
}
