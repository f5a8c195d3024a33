import Foundation

/// Whether a company comes to visit or receives visitors.
public enum DelegationRole: String, Sendable, Codable, Hashable, CaseIterable {
    /// A visiting enterprise (e.g. from China).
    case visiting
    /// A local host company meeting visitors.
    case host
}

public struct Organisation: Sendable, Codable, Hashable {
    public var name: String
    /// The name in the organisation's own language and script (e.g. 深圳市…).
    public var localName: String?
    /// ISO 3166-1 alpha-2, e.g. `CN`, `VN`.
    public var country: String
    /// Sector tags, e.g. `logistics`, `ai`, `e-commerce`.
    public var sectors: [String]
    public var website: String?

    public init(name: String, localName: String? = nil, country: String, sectors: [String] = [], website: String? = nil) {
        self.name = name
        self.localName = localName
        self.country = country
        self.sectors = sectors
        self.website = website
    }

    private enum CodingKeys: String, CodingKey { case name, localName, country, sectors, website }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        localName = try c.decodeIfPresent(String.self, forKey: .localName)
        country = try c.decode(String.self, forKey: .country)
        sectors = try c.decodeIfPresent([String].self, forKey: .sectors) ?? []
        website = try c.decodeIfPresent(String.self, forKey: .website)
    }
}

public struct Contact: Sendable, Codable, Hashable {
    public var name: String
    public var title: String?
    public var email: String
    public var phone: String?
    public var language: Language
    /// Contract 1.7: the channels this person wants notifications on, in order (e.g. `wechat`,
    /// `email`); channels the organisers do not run are skipped, and the organisers' order for
    /// the person's language follows. Absent: the organisers' order alone.
    public var channels: [ChannelName]?
    /// Contract 1.7: the person's openid with the organisers' WeChat Official Account (given by
    /// the account to someone who follows it), for WeChat template messages.
    public var wechatOpenID: String?

    public init(
        name: String, title: String? = nil, email: String, phone: String? = nil, language: Language, channels: [ChannelName]? = nil,
        wechatOpenID: String? = nil
    ) {
        self.name = name
        self.title = title
        self.email = email
        self.phone = phone
        self.language = language
        self.channels = channels
        self.wechatOpenID = wechatOpenID
    }
}

/// The identity document a restricted site (seaport, free trade zone) needs in advance.
public struct IdentityDocument: Sendable, Codable, Hashable {
    public enum Kind: String, Sendable, Codable, Hashable, CaseIterable {
        case passport
        case nationalID = "national-id"
    }

    public var kind: Kind
    public var number: String
    /// ISO 3166-1 alpha-2 of the issuing state.
    public var issuingCountry: String
    /// The holder's name exactly as printed in the document.
    public var fullName: String
    /// `YYYY-MM-DD`.
    public var dateOfBirth: String?
    /// `YYYY-MM-DD`.
    public var expiresOn: String

    public init(kind: Kind, number: String, issuingCountry: String, fullName: String, dateOfBirth: String? = nil, expiresOn: String) {
        self.kind = kind
        self.number = number
        self.issuingCountry = issuingCountry
        self.fullName = fullName
        self.dateOfBirth = dateOfBirth
        self.expiresOn = expiresOn
    }
}

public struct Delegate: Sendable, Codable, Hashable {
    public var name: String
    public var title: String?
    public var email: String?
    public var phone: String?
    public var language: Language
    /// Needs an interpreter into `language`.
    public var needsInterpreter: Bool
    /// Free text, e.g. "wheelchair".
    public var accessibilityNeeds: String?
    /// Only what restricted sites require; stored encrypted, never logged. In plain text, or
    /// (contract 1.2) sealed to the consuming service in `sealedIdentityDocument`: one or the other.
    public var identityDocument: IdentityDocument?
    /// The identity document sealed with HPKE to the service that reads it (`SealedDocument`):
    /// to registrations in `registration.submitted`, to itineraries in `registration.accepted`.
    public var sealedIdentityDocument: SealedDocument?
    /// The same document sealed to further readers, each to its own key (contract 1.5; in
    /// `registration.accepted`, to the organisers' console where registrations is given its key).
    /// A reader opens the copy under a key id it holds and ignores the others.
    public var sealedIdentityDocumentCopies: [SealedDocument]?
    /// Contract 1.7: as `Contact.channels`.
    public var channels: [ChannelName]?
    /// Contract 1.7: as `Contact.wechatOpenID`.
    public var wechatOpenID: String?

    public init(
        name: String, title: String? = nil, email: String? = nil, phone: String? = nil, language: Language,
        needsInterpreter: Bool = false, accessibilityNeeds: String? = nil, identityDocument: IdentityDocument? = nil,
        sealedIdentityDocument: SealedDocument? = nil, sealedIdentityDocumentCopies: [SealedDocument]? = nil,
        channels: [ChannelName]? = nil, wechatOpenID: String? = nil
    ) {
        self.channels = channels
        self.wechatOpenID = wechatOpenID
        self.name = name
        self.title = title
        self.email = email
        self.phone = phone
        self.language = language
        self.needsInterpreter = needsInterpreter
        self.accessibilityNeeds = accessibilityNeeds
        self.identityDocument = identityDocument
        self.sealedIdentityDocument = sealedIdentityDocument
        self.sealedIdentityDocumentCopies = sealedIdentityDocumentCopies
    }

    private enum CodingKeys: String, CodingKey {
        case name, title, email, phone, language, needsInterpreter, accessibilityNeeds, identityDocument, sealedIdentityDocument
        case sealedIdentityDocumentCopies, channels, wechatOpenID
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        title = try c.decodeIfPresent(String.self, forKey: .title)
        email = try c.decodeIfPresent(String.self, forKey: .email)
        phone = try c.decodeIfPresent(String.self, forKey: .phone)
        language = try c.decode(Language.self, forKey: .language)
        needsInterpreter = try c.decodeIfPresent(Bool.self, forKey: .needsInterpreter) ?? false
        accessibilityNeeds = try c.decodeIfPresent(String.self, forKey: .accessibilityNeeds)
        identityDocument = try c.decodeIfPresent(IdentityDocument.self, forKey: .identityDocument)
        sealedIdentityDocument = try c.decodeIfPresent(SealedDocument.self, forKey: .sealedIdentityDocument)
        sealedIdentityDocumentCopies = try c.decodeIfPresent([SealedDocument].self, forKey: .sealedIdentityDocumentCopies)
        channels = try c.decodeIfPresent([ChannelName].self, forKey: .channels)
        wechatOpenID = try c.decodeIfPresent(String.self, forKey: .wechatOpenID)
    }

    /// Whether a document is given, plain or sealed.
    public var hasIdentityDocument: Bool { identityDocument != nil || sealedIdentityDocument != nil }

    /// The copy of the document sealed to one of `keys` (by key id), if there is one.
    public func sealedCopy(for keys: DocumentKeys) -> SealedDocument? {
        sealedIdentityDocumentCopies?.first { copy in keys.privateKeys.contains { $0.id == copy.keyID } }
    }
}

public struct Interests: Sendable, Codable, Hashable {
    public var sectors: [String]
    public var topics: [String]

    public init(sectors: [String] = [], topics: [String] = []) {
        self.sectors = sectors
        self.topics = topics
    }

    /// All tags, for matching against venues and other companies.
    public var tags: Set<String> { Set(sectors + topics) }

    private enum CodingKeys: String, CodingKey { case sectors, topics }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        sectors = try c.decodeIfPresent([String].self, forKey: .sectors) ?? []
        topics = try c.decodeIfPresent([String].self, forKey: .topics) ?? []
    }
}

public struct Consent: Sendable, Codable, Hashable {
    /// Agreement to the processing of the delegation's personal data for this event.
    public var dataProcessing: Bool
    public var givenAt: Date?

    public init(dataProcessing: Bool, givenAt: Date? = nil) {
        self.dataProcessing = dataProcessing
        self.givenAt = givenAt
    }
}

/// A company delegation as one unit: who they are, who comes, what they want to see.
public struct Delegation: Sendable, Codable, Hashable {
    public var organisation: Organisation
    public var role: DelegationRole
    public var leadContact: Contact
    public var delegates: [Delegate]
    public var interests: Interests
    /// Venue ids of the site visits they would like, most wanted first.
    public var preferredVisits: [String]

    public init(
        organisation: Organisation, role: DelegationRole, leadContact: Contact, delegates: [Delegate], interests: Interests = Interests(),
        preferredVisits: [String] = []
    ) {
        self.organisation = organisation
        self.role = role
        self.leadContact = leadContact
        self.delegates = delegates
        self.interests = interests
        self.preferredVisits = preferredVisits
    }

    private enum CodingKeys: String, CodingKey { case organisation, role, leadContact, delegates, interests, preferredVisits }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        organisation = try c.decode(Organisation.self, forKey: .organisation)
        role = try c.decode(DelegationRole.self, forKey: .role)
        leadContact = try c.decode(Contact.self, forKey: .leadContact)
        delegates = try c.decode([Delegate].self, forKey: .delegates)
        interests = try c.decodeIfPresent(Interests.self, forKey: .interests) ?? Interests()
        preferredVisits = try c.decodeIfPresent([String].self, forKey: .preferredVisits) ?? []
    }

    /// The same delegation without identity documents, for messages that do not need them.
    public var withoutIdentityDocuments: Delegation {
        var copy = self
        for index in copy.delegates.indices {
            copy.delegates[index].identityDocument = nil
            copy.delegates[index].sealedIdentityDocument = nil
            copy.delegates[index].sealedIdentityDocumentCopies = nil
        }
        return copy
    }
}
