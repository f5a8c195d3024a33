import Crypto
import Foundation
import Messages

/// Encrypts identity documents at rest with AES-256-GCM (registrations and itineraries hold them).
///
/// Keys are named: every ciphertext records the id of the key that sealed it, and the row's
/// registration id is authenticated with it (a ciphertext moved to another row does not open).
/// Rotation: put the new key first in the service's `…_IDENTITY_KEYS` (keeping the old ones after
/// it), restart, run the service's `rotate-keys` command to re-seal every row under the new key,
/// then drop the old key.
public struct IdentityVault: Sendable {
    public let currentKeyID: String
    /// Raw key bytes by id (`SymmetricKey` is not `Sendable`; one is made per use).
    private let keys: [String: Data]

    /// `spec` is `id:base64key[,id:base64key…]`, current key first; keys are 32 bytes.
    public init(spec: String) throws {
        var keys: [String: Data] = [:]
        var first: String?
        for entry in spec.split(separator: ",") {
            let parts = entry.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, !parts[0].isEmpty else {
                throw VaultError.badKeySpec("each key must be written id:base64 (got an entry without ':')")
            }
            let id = String(parts[0]).trimmingCharacters(in: .whitespaces)
            guard let data = Data(base64Encoded: String(parts[1]).trimmingCharacters(in: .whitespaces)), data.count == 32 else {
                throw VaultError.badKeySpec("key '\(id)' must be 32 bytes, base64-encoded (e.g. from `openssl rand -base64 32`)")
            }
            guard keys[id] == nil else { throw VaultError.badKeySpec("key id '\(id)' appears twice") }
            keys[id] = data
            first = first ?? id
        }
        guard let first else { throw VaultError.badKeySpec("no key given") }
        self.currentKeyID = first
        self.keys = keys
    }

    /// A vault with one fresh random key (tests, demos).
    public static func ephemeral() -> IdentityVault {
        let key = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
        return IdentityVault(currentKeyID: "ephemeral", keys: ["ephemeral": key])
    }

    private init(currentKeyID: String, keys: [String: Data]) {
        self.currentKeyID = currentKeyID
        self.keys = keys
    }

    /// Seals the documents (one optional entry per delegate) under the current key.
    public func seal(_ documents: [IdentityDocument?], registrationID: String) throws -> (keyID: String, ciphertext: Data) {
        guard let key = keys[currentKeyID].map(SymmetricKey.init(data:)) else { throw VaultError.unknownKey(currentKeyID) }
        let plaintext = try JSONEncoder().encode(documents)
        let box = try AES.GCM.seal(plaintext, using: key, authenticating: Data(registrationID.utf8))
        guard let combined = box.combined else { throw VaultError.sealFailed }
        return (currentKeyID, combined)
    }

    public func open(_ ciphertext: Data, keyID: String, registrationID: String) throws -> [IdentityDocument?] {
        guard let key = keys[keyID].map(SymmetricKey.init(data:)) else { throw VaultError.unknownKey(keyID) }
        let box = try AES.GCM.SealedBox(combined: ciphertext)
        let plaintext = try AES.GCM.open(box, using: key, authenticating: Data(registrationID.utf8))
        return try JSONDecoder().decode([IdentityDocument?].self, from: plaintext)
    }

    public enum VaultError: Error, CustomStringConvertible {
        case badKeySpec(String)
        case unknownKey(String)
        case sealFailed

        public var description: String {
            switch self {
            case .badKeySpec(let reason): return reason
            case .unknownKey(let id):
                return "identity key '\(id)' is not configured (rotation: keep old keys after the current one until `rotate-keys` has run)"
            case .sealFailed: return "could not seal identity documents"
            }
        }
    }
}
