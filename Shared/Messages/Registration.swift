import Foundation

/// `registration.submitted`: an integration registers (or amends) a company delegation.
///
/// `(eventID, reference)` identifies the registration: `reference` is the integration's own
/// id, its idempotency key. A higher `revision` amends it; a lower or equal one is ignored.
public struct RegistrationSubmitted: MessagePayload {
    public static let messageType = MessageType.registrationSubmitted

    public var eventID: String
    public var reference: String
    public var revision: Int
    public var organisation: Organisation
    public var role: DelegationRole
    public var leadContact: Contact
    public var delegates: [Delegate]
    public var interests: Interests
    public var preferredVisits: [String]
    public var consent: Consent
    public var submittedAt: Date?
    /// Its place in a batch published together, an import (contract 1.8): itineraries plans
    /// the event as soon as the last of a batch is accepted instead of waiting for quiet.
    public var batch: BatchPosition?

    public init(
        eventID: String, reference: String, revision: Int = 1, delegation: Delegation, consent: Consent, submittedAt: Date? = nil
    ) {
        self.eventID = eventID
        self.reference = reference
        self.revision = revision
        self.organisation = delegation.organisation
        self.role = delegation.role
        self.leadContact = delegation.leadContact
        self.delegates = delegation.delegates
        self.interests = delegation.interests
        self.preferredVisits = delegation.preferredVisits
        self.consent = consent
        self.submittedAt = submittedAt
    }

    public var delegation: Delegation {
        Delegation(
            organisation: organisation, role: role, leadContact: leadContact, delegates: delegates, interests: interests,
            preferredVisits: preferredVisits)
    }

    private enum CodingKeys: String, CodingKey {
        case eventID, reference, revision, organisation, role, leadContact, delegates, interests, preferredVisits, consent, submittedAt
        case batch
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        eventID = try c.decode(String.self, forKey: .eventID)
        reference = try c.decode(String.self, forKey: .reference)
        revision = try c.decodeIfPresent(Int.self, forKey: .revision) ?? 1
        organisation = try c.decode(Organisation.self, forKey: .organisation)
        role = try c.decode(DelegationRole.self, forKey: .role)
        leadContact = try c.decode(Contact.self, forKey: .leadContact)
        delegates = try c.decode([Delegate].self, forKey: .delegates)
        interests = try c.decodeIfPresent(Interests.self, forKey: .interests) ?? Interests()
        preferredVisits = try c.decodeIfPresent([String].self, forKey: .preferredVisits) ?? []
        consent = try c.decode(Consent.self, forKey: .consent)
        submittedAt = try c.decodeIfPresent(Date.self, forKey: .submittedAt)
        batch = try c.decodeIfPresent(BatchPosition.self, forKey: .batch)
    }
}

/// A message's place in a batch of them published together (an import of registrations):
/// the batch's id, the place from 0, and how many the batch holds.
public struct BatchPosition: Codable, Sendable, Hashable {
    public var id: String
    public var index: Int
    public var count: Int

    public init(id: String, index: Int, count: Int) {
        self.id = id
        self.index = index
        self.count = count
    }

    /// The place is one of the batch's.
    public var isValid: Bool { !id.isEmpty && count > 0 && (0..<count).contains(index) }
    public var isLast: Bool { isValid && index == count - 1 }
}

/// `registration.cancel-requested`: the integration withdraws a registration.
public struct RegistrationCancelRequested: MessagePayload {
    public static let messageType = MessageType.registrationCancelRequested

    public var eventID: String
    public var reference: String
    public var reason: String?
    public var requestedAt: Date?

    public init(eventID: String, reference: String, reason: String? = nil, requestedAt: Date? = nil) {
        self.eventID = eventID
        self.reference = reference
        self.reason = reason
        self.requestedAt = requestedAt
    }
}

/// `registration.accepted`: the delegation has its places (first time, after an amendment, or
/// promoted from the waiting list). The one message that carries identity documents, for the
/// access lists of restricted sites.
public struct RegistrationAccepted: MessagePayload {
    public static let messageType = MessageType.registrationAccepted

    public var registrationID: String
    public var eventID: String
    public var reference: String
    public var revision: Int
    public var delegation: Delegation
    /// True when it came off the waiting list.
    public var promoted: Bool
    public var acceptedAt: Date
    /// When the accepted revision was submitted (what document deadlines are measured against).
    public var submittedAt: Date?
    /// The personal fields, sealed under the registration's data key (contract 1.3; `delegation`
    /// then holds placeholders in their place).
    public var sealedPersonalData: SealedPersonalData?
    /// The submission's place in its batch, when the acceptance answers it (not a promotion):
    /// contract 1.8.
    public var batch: BatchPosition?

    public init(
        registrationID: String, eventID: String, reference: String, revision: Int, delegation: Delegation, promoted: Bool = false,
        acceptedAt: Date, submittedAt: Date? = nil, batch: BatchPosition? = nil
    ) {
        self.registrationID = registrationID
        self.eventID = eventID
        self.reference = reference
        self.revision = revision
        self.delegation = delegation
        self.promoted = promoted
        self.acceptedAt = acceptedAt
        self.submittedAt = submittedAt
        self.batch = batch
    }

    private enum CodingKeys: String, CodingKey {
        case registrationID, eventID, reference, revision, delegation, promoted, acceptedAt, submittedAt, sealedPersonalData, batch
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        registrationID = try c.decode(String.self, forKey: .registrationID)
        eventID = try c.decode(String.self, forKey: .eventID)
        reference = try c.decode(String.self, forKey: .reference)
        revision = try c.decode(Int.self, forKey: .revision)
        delegation = try c.decode(Delegation.self, forKey: .delegation)
        promoted = try c.decodeIfPresent(Bool.self, forKey: .promoted) ?? false
        acceptedAt = try c.decode(Date.self, forKey: .acceptedAt)
        submittedAt = try c.decodeIfPresent(Date.self, forKey: .submittedAt)
        sealedPersonalData = try c.decodeIfPresent(SealedPersonalData.self, forKey: .sealedPersonalData)
        batch = try c.decodeIfPresent(BatchPosition.self, forKey: .batch)
    }
}

/// `registration.waitlisted`: the event is full; the delegation waits at `position` (1 = next).
public struct RegistrationWaitlisted: MessagePayload {
    public static let messageType = MessageType.registrationWaitlisted

    public var registrationID: String
    public var eventID: String
    public var reference: String
    public var revision: Int
    public var position: Int
    /// Without identity documents.
    public var delegation: Delegation
    public var waitlistedAt: Date
    /// The personal fields, sealed under the registration's data key (contract 1.3).
    public var sealedPersonalData: SealedPersonalData?

    public init(
        registrationID: String, eventID: String, reference: String, revision: Int, position: Int, delegation: Delegation, waitlistedAt: Date
    ) {
        self.registrationID = registrationID
        self.eventID = eventID
        self.reference = reference
        self.revision = revision
        self.position = position
        self.delegation = delegation
        self.waitlistedAt = waitlistedAt
    }
}

/// One thing wrong with a submission: where, what rule, and a sentence for a person.
public struct ValidationIssue: Sendable, Codable, Hashable {
    /// JSON path of the field, e.g. `delegates[2].email`.
    public var path: String
    /// Stable code: `required`, `invalid_format`, `invalid_value`, `too_long`, `too_many`, …
    public var code: String
    public var message: String

    public init(path: String, code: String, message: String) {
        self.path = path
        self.code = code
        self.message = message
    }
}

/// `registration.rejected`: a request was not carried out; every reason at once. Sent with the
/// request's `correlation_id` (its `message_id` when it had none).
///
/// Usually the request is a submission that was not accepted. `request` says when it was a
/// cancellation (for a reference that never arrived). When an amendment is refused, `standing`
/// says that the registration stands as it was, at that revision and status.
public struct RegistrationRejected: MessagePayload {
    public static let messageType = MessageType.registrationRejected

    public var eventID: String?
    public var reference: String?
    public var revision: Int?
    public var issues: [ValidationIssue]
    /// Where to answer the people concerned, if the submission named a valid contact.
    public var leadContact: Contact?
    public var rejectedAt: Date
    /// The type of the request refused; absent means `registration.submitted`.
    public var request: MessageType?
    /// The registration the request was about, when it exists.
    public var registrationID: String?
    /// When an amendment was refused: what still stands.
    public var standing: Standing?
    /// `leadContact`, sealed under the registration's data key (contract 1.3).
    public var sealedPersonalData: SealedPersonalData?

    /// The registration as it stands after a refused amendment.
    public struct Standing: Sendable, Codable, Hashable {
        public enum Status: String, Sendable, Codable, Hashable {
            case accepted, waitlisted
        }

        public var revision: Int
        public var status: Status

        public init(revision: Int, status: Status) {
            self.revision = revision
            self.status = status
        }
    }

    public init(
        eventID: String?, reference: String?, revision: Int?, issues: [ValidationIssue], leadContact: Contact? = nil, rejectedAt: Date,
        request: MessageType? = nil, registrationID: String? = nil, standing: Standing? = nil
    ) {
        self.eventID = eventID
        self.reference = reference
        self.revision = revision
        self.issues = issues
        self.leadContact = leadContact
        self.rejectedAt = rejectedAt
        self.request = request
        self.registrationID = registrationID
        self.standing = standing
    }
}

/// `registration.cancelled`: the registration is withdrawn and its places are free.
public struct RegistrationCancelled: MessagePayload {
    public static let messageType = MessageType.registrationCancelled

    public var registrationID: String
    public var eventID: String
    public var reference: String
    public var reason: String?
    /// Without identity documents.
    public var delegation: Delegation
    public var cancelledAt: Date
    /// The personal fields, sealed under the registration's data key (contract 1.3).
    public var sealedPersonalData: SealedPersonalData?

    public init(registrationID: String, eventID: String, reference: String, reason: String?, delegation: Delegation, cancelledAt: Date) {
        self.registrationID = registrationID
        self.eventID = eventID
        self.reference = reference
        self.reason = reason
        self.delegation = delegation
        self.cancelledAt = cancelledAt
    }
}
