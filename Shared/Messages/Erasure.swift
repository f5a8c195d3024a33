import Foundation

/// `registration.erase-requested` (contract 1.2): remove a registration's personal data
/// everywhere (the right to erasure: GDPR art. 17, Vietnam's Decree 13/2023). Published by ops
/// (`delegation-ops erase`) or by the retention schedule; every service answers with
/// `registration.erased` once its store holds none of the registration's personal data.
public struct RegistrationEraseRequested: MessagePayload {
    public static let messageType = MessageType.registrationEraseRequested

    public var eventID: String
    public var reference: String
    /// Who asked (an operator's name, `retention`), for the services' logs and answers.
    public var requestedBy: String
    /// Why: `request` (the data subject asked) or `retention` (the event's retention ended).
    public var reason: Reason
    public var requestedAt: Date

    public enum Reason: String, Sendable, Codable, Hashable, CaseIterable {
        case request
        case retention
    }

    public init(eventID: String, reference: String, requestedBy: String, reason: Reason, requestedAt: Date) {
        self.eventID = eventID
        self.reference = reference
        self.requestedBy = requestedBy
        self.reason = reason
        self.requestedAt = requestedAt
    }

    /// The registration's id, as every service derives it.
    public var registrationID: String { Messages.registrationID(eventID: eventID, reference: reference) }
}

/// `registration.erased`: one service's answer to `registration.erase-requested`. Its store
/// now holds none of the registration's personal data (names, e-mail addresses, phones,
/// identity documents, message bodies); what it keeps for accounting is anonymous.
public struct RegistrationErased: MessagePayload {
    public static let messageType = MessageType.registrationErased

    public var eventID: String
    public var registrationID: String
    public var reference: String
    /// The answering service: `registrations`, `itineraries`, `notifications`, `console`.
    public var service: String
    /// Whether the service held anything of the registration at all.
    public var found: Bool
    public var erasedAt: Date

    public init(eventID: String, registrationID: String, reference: String, service: String, found: Bool, erasedAt: Date) {
        self.eventID = eventID
        self.registrationID = registrationID
        self.reference = reference
        self.service = service
        self.found = found
        self.erasedAt = erasedAt
    }
}

extension Delegation {
    /// What is kept of a delegation after erasure: the organisation (a company, not a person),
    /// its role, interests and wishes, and how many people came with which language; no name,
    /// title, e-mail address, phone, accessibility note or identity document.
    public var anonymised: Delegation {
        var copy = self
        copy.personalData = personalData.replaced(name: Erasure.name, email: Erasure.email)
        return copy
    }
}

/// What erased personal fields read afterwards.
public enum Erasure {
    public static let name = "(erased)"
    /// A reserved domain (RFC 2606): no mail is ever sent there.
    public static let email = "erased@erased.invalid"
}
