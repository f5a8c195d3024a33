import Crypto
import Foundation

/// Erasure by forgetting keys (contract 1.3): the registrations service gives each registration
/// a data key of its own and seals every personal field of the registration's messages under it
/// (`SealedPersonalData`), so the archive stream and every other copy hold ciphertext; the
/// consumers get the key in `registration.data-key`, which the archive does not keep. Erasing
/// the registration deletes the key everywhere, and every copy stays unreadable for good.
public struct DataKey: Sendable, Hashable {
    /// 32 bytes.
    public let bytes: Data

    /// nil unless `bytes` is 32 bytes long.
    public init?(bytes: Data) {
        guard bytes.count == 32 else { return nil }
        self.bytes = bytes
    }

    /// nil unless `base64` holds 32 bytes.
    public init?(base64: String) {
        guard let bytes = Data(base64Encoded: base64) else { return nil }
        self.init(bytes: bytes)
    }

    /// A fresh random key.
    public static func generate() -> DataKey {
        DataKey(unchecked: SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) })
    }

    private init(unchecked bytes: Data) { self.bytes = bytes }

    public var base64: String { bytes.base64EncodedString() }
    var symmetric: SymmetricKey { SymmetricKey(data: bytes) }
}

/// The personal fields of a registration's message: the lead contact and the delegates as given
/// (names, titles, e-mail addresses, phones, accessibility notes, identity documents).
public struct PersonalData: Sendable, Codable, Hashable {
    public var leadContact: Contact?
    public var delegates: [Delegate]

    public init(leadContact: Contact?, delegates: [Delegate]) {
        self.leadContact = leadContact
        self.delegates = delegates
    }

    /// The same people with every personal field replaced by `name` and `email`: what a message
    /// holds in their place (`Sealing`, `Erasure`). Languages, interpreter needs and the number
    /// of delegates stay, since planning needs them and they name nobody.
    public func replaced(name: String, email: String) -> PersonalData {
        PersonalData(
            leadContact: leadContact.map { Contact(name: name, email: email, language: $0.language) },
            delegates: delegates.map { Delegate(name: name, language: $0.language, needsInterpreter: $0.needsInterpreter) })
    }
}

/// What sealed personal fields read in a message: the fields are in `sealedPersonalData`.
public enum Sealing {
    public static let name = "(sealed)"
    /// A reserved domain (RFC 2606): no mail is ever sent there.
    public static let email = "sealed@sealed.invalid"
}

/// Whether an e-mail address stands for nobody: a field erased, or still sealed.
public func isPlaceholderAddress(_ email: String) -> Bool {
    email == Erasure.email || email == Sealing.email
}

/// `PersonalData` sealed under a registration's data key: AES-256-GCM, a fresh 12-byte nonce,
/// the registration id as additional data (a sealed part moved into another registration's
/// message does not open), the JSON of `PersonalData` as plaintext.
public struct SealedPersonalData: Sendable, Codable, Hashable {
    public static let suiteName = "aes256gcm"

    /// Always `aes256gcm`.
    public var suite: String
    /// The registration whose data key seals it.
    public var keyID: String
    /// Nonce (12 bytes), ciphertext and tag (16 bytes), in that order, standard base64.
    public var sealed: String

    public init(suite: String = SealedPersonalData.suiteName, keyID: String, sealed: String) {
        self.suite = suite
        self.keyID = keyID
        self.sealed = sealed
    }

    public static func seal(_ data: PersonalData, with key: DataKey, registrationID: String) throws -> SealedPersonalData {
        let box = try AES.GCM.seal(try MessageCoding.encode(data), using: key.symmetric, authenticating: Data(registrationID.utf8))
        guard let combined = box.combined else { throw SealedDocumentError.malformed }
        return SealedPersonalData(keyID: registrationID, sealed: combined.base64EncodedString())
    }

    /// The personal data, or why it cannot be read (never what it holds).
    public func open(with key: DataKey) throws(SealedDocumentError) -> PersonalData {
        guard suite == Self.suiteName else { throw .unsupportedSuite(suite) }
        guard let combined = Data(base64Encoded: sealed), combined.count >= 28 else { throw .malformed }
        let plaintext: Data
        do {
            plaintext = try AES.GCM.open(AES.GCM.SealedBox(combined: combined), using: key.symmetric, authenticating: Data(keyID.utf8))
        } catch {
            throw .doesNotOpen
        }
        do {
            return try MessageCoding.decode(PersonalData.self, from: plaintext)
        } catch {
            throw .notADocument
        }
    }
}

/// A message whose personal fields are sealed under its registration's data key.
public protocol CarriesPersonalData: MessagePayload {
    /// The registration whose data key seals it (its partition recipient).
    var dataKeyID: String? { get }
    var sealedPersonalData: SealedPersonalData? { get set }
    /// The personal fields as the message holds them.
    var personalData: PersonalData { get set }
}

extension CarriesPersonalData {
    /// The message with its personal fields sealed under `key`, placeholders in their place.
    public func sealed(with key: DataKey) throws -> Self {
        guard let id = dataKeyID, sealedPersonalData == nil else { return self }
        var copy = self
        copy.sealedPersonalData = try SealedPersonalData.seal(personalData, with: key, registrationID: id)
        copy.personalData = personalData.replaced(name: Sealing.name, email: Sealing.email)
        return copy
    }

    /// The message with its sealed fields opened with `key` (nil: the key was erased, and the
    /// fields read as erased).
    public func opened(with key: DataKey?) throws(SealedDocumentError) -> Self {
        guard let sealed = sealedPersonalData else { return self }
        guard sealed.keyID == dataKeyID else { throw .unknownKey(sealed.keyID) }
        var copy = self
        copy.personalData =
            try key.map { key throws(SealedDocumentError) in try sealed.open(with: key) }
            ?? personalData.replaced(name: Erasure.name, email: Erasure.email)
        copy.sealedPersonalData = nil
        return copy
    }
}

extension Delegation {
    /// The lead contact and the delegates.
    public var personalData: PersonalData {
        get { PersonalData(leadContact: leadContact, delegates: delegates) }
        set {
            if let lead = newValue.leadContact { leadContact = lead }
            delegates = newValue.delegates
        }
    }
}

/// A registration's message that carries its delegation: its people are the personal data.
public protocol CarriesDelegation: CarriesPersonalData {
    var registrationID: String { get }
    var delegation: Delegation { get set }
}

extension CarriesDelegation {
    public var dataKeyID: String? { registrationID }
    public var personalData: PersonalData {
        get { delegation.personalData }
        set { delegation.personalData = newValue }
    }
}

extension RegistrationAccepted: CarriesDelegation {}
extension RegistrationWaitlisted: CarriesDelegation {}
extension RegistrationCancelled: CarriesDelegation {}

extension RegistrationRejected: CarriesPersonalData {
    public var dataKeyID: String? { partitionKeys.recipient }
    public var personalData: PersonalData {
        get { PersonalData(leadContact: leadContact, delegates: []) }
        set { leadContact = newValue.leadContact }
    }
}

extension RegistrationRecorded: CarriesPersonalData {
    public var dataKeyID: String? { registrationID }
    public var personalData: PersonalData {
        get { PersonalData(leadContact: submission.leadContact, delegates: submission.delegates) }
        set {
            if let lead = newValue.leadContact { submission.leadContact = lead }
            submission.delegates = newValue.delegates
        }
    }
}

/// `registration.recorded` (contract 1.3): a submission as the registrations service received
/// it, its personal fields sealed. The archive keeps this instead of `registration.submitted`
/// (whose fields integrations send in plain text): it is what a replay rebuilds the
/// registrations store from. Nobody consumes it live.
public struct RegistrationRecorded: MessagePayload {
    public static let messageType = MessageType.registrationRecorded

    public var registrationID: String
    /// The submission's own message id: a replay skips a submission the store already saw.
    public var submissionMessageID: String
    /// When the submission first came (what deadlines are judged on).
    public var receivedAt: Date
    /// Its `correlation_id`, that answers carry.
    public var correlationID: String
    public var submission: RegistrationSubmitted
    public var sealedPersonalData: SealedPersonalData?

    public init(
        registrationID: String, submissionMessageID: String, receivedAt: Date, correlationID: String, submission: RegistrationSubmitted,
        sealedPersonalData: SealedPersonalData? = nil
    ) {
        self.registrationID = registrationID
        self.submissionMessageID = submissionMessageID
        self.receivedAt = receivedAt
        self.correlationID = correlationID
        self.submission = submission
        self.sealedPersonalData = sealedPersonalData
    }

    public var partitionKeys: PartitionKeys { PartitionKeys(event: submission.eventID, recipient: registrationID) }
}

/// `registration.data-key` (contract 1.3): a registration's data key, for the services that read
/// its personal fields. Never archived; `key` is absent once the registration is erased.
public struct RegistrationDataKey: MessagePayload {
    public static let messageType = MessageType.registrationDataKey

    public var eventID: String
    public var registrationID: String
    /// 32 bytes, standard base64; nil: erased, forget it.
    public var key: String?
    public var issuedAt: Date

    public init(eventID: String, registrationID: String, key: String?, issuedAt: Date) {
        self.eventID = eventID
        self.registrationID = registrationID
        self.key = key
        self.issuedAt = issuedAt
    }

    public var partitionKeys: PartitionKeys { PartitionKeys(event: eventID, recipient: registrationID) }
}

/// `registration.data-keys-requested` (contract 1.3): asks registrations to send
/// `registration.data-key` again for every registration (of `eventID`, if given), so that a
/// service whose store was rebuilt reads replayed messages. Sent by `delegation-ops replay`.
public struct RegistrationDataKeysRequested: MessagePayload {
    public static let messageType = MessageType.registrationDataKeysRequested

    public var eventID: String?
    public var requestedBy: String
    public var requestedAt: Date

    public init(eventID: String? = nil, requestedBy: String, requestedAt: Date) {
        self.eventID = eventID
        self.requestedBy = requestedBy
        self.requestedAt = requestedAt
    }

    public var partitionKeys: PartitionKeys { PartitionKeys(event: eventID, recipient: nil) }
}
