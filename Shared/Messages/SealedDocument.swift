import Crypto
import Foundation

/// An identity document sealed to one service with HPKE (RFC 9180, base mode):
/// DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM. Only the holder of the recipient's
/// private key reads it, so the broker, other consumers and the archive stream hold ciphertext.
///
/// - `info`: `delegation identity-document v1`
/// - additional data: the registration's `reference` (UTF-8), so a sealed document moved into
///   another registration does not open
/// - plaintext: the `IdentityDocument` as JSON
/// - `enc` and `ciphertext`: standard base64
public struct SealedDocument: Sendable, Codable, Hashable {
    public static let suiteName = "hpke-x25519-sha256-aes256gcm"
    public static let info = Data("delegation identity-document v1".utf8)
    static var ciphersuite: HPKE.Ciphersuite { HPKE.Ciphersuite(kem: .Curve25519_HKDF_SHA256, kdf: .HKDF_SHA256, aead: .AES_GCM_256) }

    /// Always `hpke-x25519-sha256-aes256gcm`.
    public var suite: String
    /// The recipient key's id (its holder may have several during a rotation).
    public var keyID: String
    /// The encapsulated key (32 bytes), base64.
    public var enc: String
    /// The sealed JSON with its 16-byte tag, base64.
    public var ciphertext: String

    public init(suite: String = SealedDocument.suiteName, keyID: String, enc: String, ciphertext: String) {
        self.suite = suite
        self.keyID = keyID
        self.enc = enc
        self.ciphertext = ciphertext
    }

    /// Seals `document` to `recipient` for the registration `reference`.
    public static func seal(_ document: IdentityDocument, to recipient: DocumentKeys.PublicKey, reference: String) throws -> SealedDocument
    {
        var sender = try HPKE.Sender(recipientKey: try recipient.key(), ciphersuite: ciphersuite, info: info)
        let ciphertext = try sender.seal(try MessageCoding.encode(document), authenticating: Data(reference.utf8))
        return SealedDocument(
            keyID: recipient.id, enc: sender.encapsulatedKey.base64EncodedString(), ciphertext: ciphertext.base64EncodedString())
    }

    /// Opens the document with the matching private key, or says why it cannot (never what it holds).
    public func open(with keys: DocumentKeys, reference: String) throws(SealedDocumentError) -> IdentityDocument {
        guard suite == Self.suiteName else { throw .unsupportedSuite(suite) }
        guard let key = keys.privateKeys.first(where: { $0.id == keyID }) else { throw .unknownKey(keyID) }
        guard let enc = Data(base64Encoded: enc), enc.count == 32, let ciphertext = Data(base64Encoded: ciphertext) else {
            throw .malformed
        }
        let plaintext: Data
        do {
            var recipient = try HPKE.Recipient(
                privateKey: try key.key(), ciphersuite: Self.ciphersuite, info: Self.info, encapsulatedKey: enc)
            plaintext = try recipient.open(ciphertext, authenticating: Data(reference.utf8))
        } catch {
            throw .doesNotOpen
        }
        do {
            return try MessageCoding.decode(IdentityDocument.self, from: plaintext)
        } catch {
            throw .notADocument
        }
    }
}

/// Why a sealed document cannot be read. Names nothing it holds.
public enum SealedDocumentError: Error, Sendable, Equatable, CustomStringConvertible {
    case unsupportedSuite(String)
    case unknownKey(String)
    case malformed
    case doesNotOpen
    case notADocument

    public var description: String {
        switch self {
        case .unsupportedSuite(let suite): "suite '\(suite)' is not \(SealedDocument.suiteName)"
        case .unknownKey(let id): "sealed to key '\(id)', which this service does not hold"
        case .malformed: "enc or ciphertext is not base64 of the right length"
        case .doesNotOpen: "does not open: sealed to another key, for another registration reference, or altered"
        case .notADocument: "opens, but the content is not an identity document"
        }
    }
}

/// A service's X25519 key pairs for sealed documents: the private ones it opens with (current
/// first, older ones during a rotation), and the public one others seal to.
public struct DocumentKeys: Sendable {
    public struct PrivateKey: Sendable {
        public let id: String
        /// The raw 32 bytes (checked to be a key when read).
        let raw: Data
        func key() throws -> Curve25519.KeyAgreement.PrivateKey { try .init(rawRepresentation: raw) }
        public var publicKey: PublicKey {
            PublicKey(id: id, raw: (try? key().publicKey.rawRepresentation) ?? Data())
        }
    }

    public struct PublicKey: Sendable {
        public let id: String
        let raw: Data
        func key() throws -> Curve25519.KeyAgreement.PublicKey { try .init(rawRepresentation: raw) }
        /// The raw 32 bytes, base64: what integrations are given.
        public var base64: String { raw.base64EncodedString() }
        /// `id:base64`, as settings write it.
        public var spec: String { "\(id):\(base64)" }

        init(id: String, raw: Data) {
            self.id = id
            self.raw = raw
        }

        /// `id:base64` of the raw 32-byte public key.
        public init(spec: String) throws(DocumentKeyError) {
            let (id, raw) = try DocumentKeys.parse(spec)
            guard (try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: raw)) != nil else { throw .notAKey(id) }
            self.init(id: id, raw: raw)
        }
    }

    public let privateKeys: [PrivateKey]

    /// The key documents are sealed to now.
    public var current: PublicKey? { privateKeys.first?.publicKey }

    /// `id:base64[,id:base64…]` of raw 32-byte X25519 private keys, current first.
    public init(spec: String) throws(DocumentKeyError) {
        var keys: [PrivateKey] = []
        for part in spec.split(separator: ",") {
            let (id, raw) = try Self.parse(String(part))
            guard (try? Curve25519.KeyAgreement.PrivateKey(rawRepresentation: raw)) != nil else { throw .notAKey(id) }
            guard !keys.contains(where: { $0.id == id }) else { throw .duplicate(id) }
            keys.append(PrivateKey(id: id, raw: raw))
        }
        guard !keys.isEmpty else { throw .empty }
        privateKeys = keys
    }

    init(privateKeys: [PrivateKey]) { self.privateKeys = privateKeys }

    /// A new key pair with this id: the setting's value (`id:base64` of the private key).
    public static func generate(id: String) -> (keys: DocumentKeys, privateSpec: String) {
        let raw = Curve25519.KeyAgreement.PrivateKey().rawRepresentation
        return (DocumentKeys(privateKeys: [PrivateKey(id: id, raw: raw)]), "\(id):\(raw.base64EncodedString())")
    }

    static func parse(_ text: String) throws(DocumentKeyError) -> (String, Data) {
        let pair = text.trimmingCharacters(in: .whitespaces).split(separator: ":", maxSplits: 1).map(String.init)
        guard pair.count == 2, !pair[0].isEmpty, pair[0].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
        else { throw .format }
        guard let raw = Data(base64Encoded: pair[1]), raw.count == 32 else { throw .length(pair[0]) }
        return (pair[0], raw)
    }
}

/// A key setting that cannot be used; names the key id, never the key.
public enum DocumentKeyError: Error, Sendable, Equatable, CustomStringConvertible {
    case format
    case length(String)
    case notAKey(String)
    case duplicate(String)
    case empty

    public var description: String {
        switch self {
        case .format: "must be id:base64 (id of letters, digits, - or _), comma-separated"
        case .length(let id): "key '\(id)' must be 32 bytes, base64"
        case .notAKey(let id): "key '\(id)' is not an X25519 key"
        case .duplicate(let id): "key id '\(id)' appears twice"
        case .empty: "names no key"
        }
    }
}
