import Foundation

/// `plan.override-requested`: an organiser's decision the planner must respect (published by
/// `delegation-ops plan override`, later by the console). A request with an `overrideID` that is
/// already in force replaces it; `withdraw` takes it back. Answered by `plan.override-decided`.
public struct PlanOverrideRequested: MessagePayload {
    public static let messageType = MessageType.planOverrideRequested

    public enum Kind: String, Sendable, Codable, Hashable, CaseIterable {
        /// The delegation (`reference`) rides `busID` on `day`.
        case pin
        /// The delegation visits `venueID` on some day.
        case requireVisit = "require-visit"
        /// The delegation does not visit `venueID`.
        case forbidVisit = "forbid-visit"
        /// The tour of `busID` on `day` keeps its riders and stops as they are now.
        case lockTour = "lock-tour"
        /// `seats` seats of `busID` stay free on `day` (every day if no day).
        case reserveSeats = "reserve-seats"
    }

    public var eventID: String
    /// The organiser's name for this override (unique within the event).
    public var overrideID: String
    /// What to keep; nil only when withdrawing.
    public var kind: Kind?
    /// True: take the override `overrideID` back.
    public var withdraw: Bool
    /// The registration's reference (for pin, require-visit, forbid-visit).
    public var reference: String?
    public var busID: String?
    /// `YYYY-MM-DD` in the event's time zone.
    public var day: String?
    public var venueID: String?
    public var seats: Int?
    /// Why, in the organiser's words (kept with the override; never personal data).
    public var reason: String?
    /// Who asked (an account or role name, not a person's contact details).
    public var requestedBy: String?
    public var requestedAt: Date?

    public init(
        eventID: String, overrideID: String, kind: Kind?, withdraw: Bool = false, reference: String? = nil, busID: String? = nil,
        day: String? = nil, venueID: String? = nil, seats: Int? = nil, reason: String? = nil, requestedBy: String? = nil,
        requestedAt: Date? = nil
    ) {
        self.eventID = eventID
        self.overrideID = overrideID
        self.kind = kind
        self.withdraw = withdraw
        self.reference = reference
        self.busID = busID
        self.day = day
        self.venueID = venueID
        self.seats = seats
        self.reason = reason
        self.requestedBy = requestedBy
        self.requestedAt = requestedAt
    }

    private enum CodingKeys: String, CodingKey {
        case eventID, overrideID, kind, withdraw, reference, busID, day, venueID, seats, reason, requestedBy, requestedAt
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        eventID = try c.decode(String.self, forKey: .eventID)
        overrideID = try c.decode(String.self, forKey: .overrideID)
        kind = try c.decodeIfPresent(Kind.self, forKey: .kind)
        withdraw = try c.decodeIfPresent(Bool.self, forKey: .withdraw) ?? false
        reference = try c.decodeIfPresent(String.self, forKey: .reference)
        busID = try c.decodeIfPresent(String.self, forKey: .busID)
        day = try c.decodeIfPresent(String.self, forKey: .day)
        venueID = try c.decodeIfPresent(String.self, forKey: .venueID)
        seats = try c.decodeIfPresent(Int.self, forKey: .seats)
        reason = try c.decodeIfPresent(String.self, forKey: .reason)
        requestedBy = try c.decodeIfPresent(String.self, forKey: .requestedBy)
        requestedAt = try c.decodeIfPresent(Date.self, forKey: .requestedAt)
    }
}

/// `plan.override-decided`: what became of an override request. `applied` once a plan keeps it
/// (with the visit value it costs), `refused` with the reason (nothing of it applied),
/// `withdrawn` when taken back.
public struct PlanOverrideDecided: MessagePayload {
    public static let messageType = MessageType.planOverrideDecided

    public enum Outcome: String, Sendable, Codable, Hashable, CaseIterable {
        case applied, refused, withdrawn
    }

    public var eventID: String
    public var overrideID: String
    public var outcome: Outcome
    public var reason: String?
    /// For `applied`: the visit value the plan gives up for it (0 if nothing).
    public var cost: Double?
    /// The plan version that first keeps it (applied).
    public var planVersion: Int?
    public var decidedAt: Date

    public init(
        eventID: String, overrideID: String, outcome: Outcome, reason: String? = nil, cost: Double? = nil, planVersion: Int? = nil,
        decidedAt: Date
    ) {
        self.eventID = eventID
        self.overrideID = overrideID
        self.outcome = outcome
        self.reason = reason
        self.cost = cost
        self.planVersion = planVersion
        self.decidedAt = decidedAt
    }
}

/// `plan.reoptimise-requested`: compute the best plan allowing moves (a preview: nothing is
/// published to delegations), or apply a preview made earlier (`applyPreview`). Answered by
/// `plan.reoptimised`.
public struct PlanReoptimiseRequested: MessagePayload {
    public static let messageType = MessageType.planReoptimiseRequested

    public var eventID: String
    /// Names this request; a preview is applied by naming its request id in `applyPreview`.
    public var requestID: String
    /// The `requestID` of the preview to apply; nil asks for a preview.
    public var applyPreview: String?
    public var requestedBy: String?
    public var requestedAt: Date?

    public init(eventID: String, requestID: String, applyPreview: String? = nil, requestedBy: String? = nil, requestedAt: Date? = nil) {
        self.eventID = eventID
        self.requestID = requestID
        self.applyPreview = applyPreview
        self.requestedBy = requestedBy
        self.requestedAt = requestedAt
    }
}

/// `plan.reoptimised`: a preview's figures, or the outcome of applying one.
public struct PlanReoptimised: MessagePayload {
    public static let messageType = MessageType.planReoptimised

    public enum Outcome: String, Sendable, Codable, Hashable, CaseIterable {
        /// Computed, not published; apply it with a `plan.reoptimise-requested` naming this request.
        case previewed
        /// The previewed plan is now the event's plan; delegations are told what changed.
        case applied
        /// Not applied (the preview is unknown, or the event changed since it was made: preview again).
        case refused
    }

    public var eventID: String
    public var requestID: String
    public var outcome: Outcome
    public var reason: String?
    /// The visit value of the plan in force and of the re-optimised one.
    public var valueBefore: Double
    public var valueAfter: Double
    /// Registrations whose tours would change (or changed): another bus, other stops or times,
    /// a tour gained or lost.
    public var moved: [String]
    /// The plan version the preview starts from, and the one applied.
    public var basedOnVersion: Int?
    public var planVersion: Int?
    public var decidedAt: Date

    public init(
        eventID: String, requestID: String, outcome: Outcome, reason: String? = nil, valueBefore: Double, valueAfter: Double,
        moved: [String], basedOnVersion: Int? = nil, planVersion: Int? = nil, decidedAt: Date
    ) {
        self.eventID = eventID
        self.requestID = requestID
        self.outcome = outcome
        self.reason = reason
        self.valueBefore = valueBefore
        self.valueAfter = valueAfter
        self.moved = moved
        self.basedOnVersion = basedOnVersion
        self.planVersion = planVersion
        self.decidedAt = decidedAt
    }
}
