import Foundation
import Messages

/// A delegation as the planner sees it: a unit that travels together.
public struct PlanningDelegation: Sendable, Codable, Hashable {
    /// The registration id.
    public var id: String
    public var name: String
    public var role: DelegationRole
    public var size: Int
    /// Languages that delegates who need an interpreter speak.
    public var interpreterLanguages: [Language]
    /// Sector and topic tags (interests, plus the organisation's sectors).
    public var interests: [String]
    /// What the organisation does (for meetings: what others may be interested in).
    public var sectors: [String]
    /// Venue ids, most wanted first.
    public var preferredVisits: [String]
    /// The document kind each delegate holds (nil: none given).
    public var documentKinds: [IdentityDocument.Kind?]
    /// When the documents were handed in (the accepted revision's submission).
    public var documentsGivenAt: Date
    /// Who will not come, by day (`attendance.declined`): places in the delegation. Their seats
    /// are free that day.
    public var absent: [String: [Int]]?

    public init(
        id: String, name: String, role: DelegationRole, size: Int, interpreterLanguages: [Language], interests: [String], sectors: [String],
        preferredVisits: [String], documentKinds: [IdentityDocument.Kind?], documentsGivenAt: Date
    ) {
        self.id = id
        self.name = name
        self.role = role
        self.size = size
        self.interpreterLanguages = interpreterLanguages
        self.interests = interests
        self.sectors = sectors
        self.preferredVisits = preferredVisits
        self.documentKinds = documentKinds
        self.documentsGivenAt = documentsGivenAt
    }

    /// From an accepted registration.
    public init(_ accepted: RegistrationAccepted) {
        let delegation = accepted.delegation
        self.init(
            id: accepted.registrationID, name: delegation.organisation.name, role: delegation.role, size: delegation.delegates.count,
            interpreterLanguages: Array(Set(delegation.delegates.filter(\.needsInterpreter).map(\.language))).sorted {
                $0.rawValue < $1.rawValue
            },
            interests: Array(delegation.interests.tags.union(delegation.organisation.sectors)).sorted(),
            sectors: delegation.organisation.sectors.sorted(),
            preferredVisits: delegation.preferredVisits,
            documentKinds: delegation.delegates.map { $0.identityDocument?.kind },
            documentsGivenAt: accepted.submittedAt ?? accepted.acceptedAt)
    }

    /// The delegation as it travels on `day`: without those who will not come.
    public func on(_ day: String) -> PlanningDelegation {
        guard let persons = absent?[day], !persons.isEmpty else { return self }
        var today = self
        today.size = max(0, size - Set(persons).filter { (1...max(1, size)).contains($0) }.count)
        return today
    }

    /// Whether every delegate holds an accepted document, handed in before the deadline.
    public func mayEnter(_ access: RestrictedAccess?) -> Bool {
        guard let access else { return true }
        return documentsGivenAt <= access.deadline && documentKinds.allSatisfy { kind in kind.map(access.documents.contains) ?? false }
    }
}

/// Everything one plan is made from.
public struct PlanningInput: Sendable, Codable, Equatable {
    public var programme: ProgrammePublished
    public var delegations: [PlanningDelegation]
    /// The organisers' overrides in force, oldest first.
    public var overrides: [PlanningOverride]

    public init(programme: ProgrammePublished, delegations: [PlanningDelegation], overrides: [PlanningOverride] = []) {
        self.programme = programme
        self.delegations = delegations.sorted { $0.id < $1.id }
        self.overrides = overrides
    }

    private enum CodingKeys: String, CodingKey { case programme, delegations, overrides }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            programme: try c.decode(ProgrammePublished.self, forKey: .programme),
            delegations: try c.decode([PlanningDelegation].self, forKey: .delegations),
            overrides: try c.decodeIfPresent([PlanningOverride].self, forKey: .overrides) ?? [])
    }
}
