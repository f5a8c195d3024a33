import Foundation
import GRDB
import ItineraryPlanner
import Messages
import ServiceRuntime

/// Records what planning depends on — the programme, accepted and cancelled registrations — and
/// marks the event for re-planning. The plan itself is made by `PlanningService`, once a burst
/// of changes has settled, not once per message.
public struct ItinerariesHandler: Sendable, OpensPersonalData {
    /// What itineraries consumes, and with what.
    public static let router: MessageRouter<ItinerariesHandler> = {
        var router = MessageRouter<ItinerariesHandler>()
        router.on(ProgrammePublished.self) { try $0.programme($1, $2) }
        router.on(RegistrationAccepted.self) { try $0.accepted($1, $2) }
        router.on(RegistrationCancelled.self) { try $0.cancelled($1, $2) }
        router.on(AttendanceDeclined.self) { try $0.declined($1, $2) }
        router.on(PlanOverrideRequested.self) { try $0.override($1, $2) }
        router.on(PlanReoptimiseRequested.self) { try $0.reoptimise($1, $2) }
        router.on(RegistrationEraseRequested.self) { try $0.erase($1, $2) }
        router.keepsDataKeys()
        router.emits(PlanOverrideDecided.self, RegistrationErased.self)
        // By the planning service:
        router.emits(ItineraryPlanned.self, ItineraryChanged.self, PlanReoptimised.self)
        return router
    }()

    private let vault: IdentityVault
    /// Opens the identity documents registrations seals to this service (`SealedDocument`).
    private let documentKeys: DocumentKeys?

    public init(vault: IdentityVault, documentKeys: DocumentKeys? = nil) {
        self.vault = vault
        self.documentKeys = documentKeys
    }

    /// The routes bound to this handler.
    public var dispatcher: Dispatcher { Self.router.dispatcher(for: self) }

    func programme(_ message: Message<ProgrammePublished>, _ db: Database) throws -> [OutboundMessage] {
        let programme = message.payload
        if let known = try ItineraryStore.programme(programme.eventID, in: db), known.version >= programme.version { return [] }
        try ItineraryStore.save(programme, in: db)
        try ItineraryStore.markChanged(programme.eventID, trace: message.metadata.trace, in: db)
        return []
    }

    func accepted(_ message: Message<RegistrationAccepted>, _ db: Database) throws -> [OutboundMessage] {
        var accepted = message.payload
        let known = try ItineraryStore.delegation(accepted.registrationID, in: db)
        if let known, known.revision > accepted.revision { return [] }
        // A cancellation made after it (which overtook it while it waited for a retry, perhaps
        // before it ever arrived) stands; a registration made again after the cancellation is
        // accepted later, and planned.
        if let cancellation = try ItineraryStore.cancellation(accepted.registrationID, in: db),
            accepted.acceptedAt <= cancellation.cancelledAt
        {
            return []
        }
        // Sealed documents are opened here and kept under the store's own key, like plain ones.
        for (index, delegate) in accepted.delegation.delegates.enumerated() {
            guard let sealed = delegate.sealedIdentityDocument else { continue }
            guard let documentKeys else {
                throw HandlerFailure.permanent(
                    "delegates[\(index)] has a sealed identity document and ITINERARIES_DOCUMENT_KEYS is not set; set it and retry")
            }
            do {
                accepted.delegation.delegates[index].identityDocument = try sealed.open(with: documentKeys, reference: accepted.reference)
                accepted.delegation.delegates[index].sealedIdentityDocument = nil
            } catch {
                throw HandlerFailure.permanent("delegates[\(index)].sealedIdentityDocument: \(error)")
            }
        }
        let documents = accepted.delegation.delegates.map(\.identityDocument)
        let sealed = documents.contains { $0 != nil } ? try vault.seal(documents, registrationID: accepted.registrationID) : nil
        var planning = PlanningDelegation(accepted)
        planning.absent = known?.planning.absent  // (an amendment keeps them)
        try ItineraryStore.save(
            .init(
                planning: planning, eventID: accepted.eventID, revision: accepted.revision, active: true,
                correlationID: message.correlationID, trace: message.metadata.trace, acceptedAt: accepted.acceptedAt),
            sealed: sealed, in: db)
        try ItineraryStore.markChanged(
            accepted.eventID, trace: message.metadata.trace, arrival: known == nil, endsBatch: accepted.batch?.isLast == true, in: db)
        return []
    }

    /// `registration.erase-requested`: the identity documents go, and the outbox's copies of the
    /// messages about the registration. What planning keeps (the organisation, the group's size,
    /// languages and document kinds, its tours) names no person, nor does a kept cancellation
    /// (ids and a time).
    func erase(_ message: Message<RegistrationEraseRequested>, _ db: Database) throws -> [OutboundMessage] {
        let request = message.payload
        let known = try ItineraryStore.delegation(request.registrationID, in: db)
        if let known { try ItineraryStore.save(known, sealed: nil, in: db) }
        try DataKeys.forget(registrationID: request.registrationID, eventID: request.eventID, in: db)
        try Outbox.erase(registrationID: request.registrationID, eventID: request.eventID, reference: request.reference, in: db)
        return [
            try OutboundMessage(
                RegistrationErased(
                    eventID: request.eventID, registrationID: request.registrationID, reference: request.reference,
                    service: "itineraries", found: known != nil, erasedAt: Date()),
                correlationID: message.answerCorrelationID)
        ]
    }

    /// `registration.cancelled`: the delegation takes no part from the next plan on. The
    /// cancellation is kept even for a registration not known here yet, whose acceptance may
    /// still come (`accepted` then ignores it).
    func cancelled(_ message: Message<RegistrationCancelled>, _ db: Database) throws -> [OutboundMessage] {
        let cancelled = message.payload
        try ItineraryStore.save(
            CancellationRecord(registrationID: cancelled.registrationID, eventID: cancelled.eventID, cancelledAt: cancelled.cancelledAt),
            in: db)
        guard var known = try ItineraryStore.delegation(cancelled.registrationID, in: db), known.active,
            known.acceptedAt.map({ $0 <= cancelled.cancelledAt }) ?? true
        else { return [] }
        known.active = false
        known.trace = message.metadata.trace
        try ItineraryStore.save(known, sealed: nil, in: db)
        try ItineraryStore.markChanged(cancelled.eventID, trace: message.metadata.trace, in: db)
        return []
    }

    /// `attendance.declined`: those people take no seat that day; the next plan counts them out
    /// (and may give the seats to delegations without a tour). Known already: nothing changes.
    func declined(_ message: Message<AttendanceDeclined>, _ db: Database) throws -> [OutboundMessage] {
        let declined = message.payload
        guard var known = try ItineraryStore.delegation(declined.registrationID, in: db), known.active else { return [] }
        let before = Set(known.planning.absent?[declined.day] ?? [])
        let after = before.union(declined.persons.filter { (1...max(1, known.planning.size)).contains($0) })
        guard after != before else { return [] }
        known.planning.absent = (known.planning.absent ?? [:]).merging([declined.day: after.sorted()]) { _, new in new }
        known.trace = message.metadata.trace
        // (the sealed documents stay as they are)
        try ItineraryStore.save(known, sealed: try ItineraryStore.identity(declined.registrationID, in: db), in: db)
        try ItineraryStore.markChanged(declined.eventID, trace: message.metadata.trace, in: db)
        return []
    }

    /// Records an override for the planning service (which applies or refuses it with the next
    /// plan), or takes one back. A request that lacks what its kind needs is refused at once.
    func override(_ message: Message<PlanOverrideRequested>, _ db: Database) throws -> [OutboundMessage] {
        let request = message.payload
        func decided(_ outcome: PlanOverrideDecided.Outcome, _ reason: String? = nil) throws -> [OutboundMessage] {
            [
                try OutboundMessage(
                    PlanOverrideDecided(
                        eventID: request.eventID, overrideID: request.overrideID, outcome: outcome, reason: reason, decidedAt: Date()),
                    correlationID: message.correlationID)
            ]
        }
        let known = try ItineraryStore.override(eventID: request.eventID, id: request.overrideID, in: db)
        if request.withdraw {
            guard known != nil else { return try decided(.refused, "no override '\(request.overrideID)' is in force") }
            try ItineraryStore.deleteOverride(eventID: request.eventID, id: request.overrideID, in: db)
            try ItineraryStore.markChanged(request.eventID, trace: message.metadata.trace, in: db)
            return try decided(.withdrawn)
        }
        let override: PlanningOverride
        switch Self.override(from: request) {
        case .success(let value): override = value
        case .failure(let problem): return try decided(.refused, problem.description)
        }
        try ItineraryStore.save(
            OverrideRecord(
                eventID: request.eventID, overrideID: request.overrideID,
                position: try known?.position ?? ItineraryStore.nextOverridePosition(eventID: request.eventID, in: db), status: .pending,
                body: override, reason: request.reason, requestedBy: request.requestedBy, cost: nil,
                correlationID: message.correlationID, requestedAt: request.requestedAt ?? Date()),
            in: db)
        try ItineraryStore.markChanged(request.eventID, trace: message.metadata.trace, in: db)
        return []
    }

    struct RequestProblem: Error, CustomStringConvertible {
        let description: String
    }

    /// The planner's override a request describes, or what it lacks.
    static func override(from request: PlanOverrideRequested) -> Result<PlanningOverride, RequestProblem> {
        guard let kind = request.kind else {
            return .failure(RequestProblem(description: "a kind is needed (pin, require-visit, forbid-visit, lock-tour or reserve-seats)"))
        }
        let needs: [(String, Bool)]
        switch kind {
        case .pin: needs = [("reference", request.reference != nil), ("busID", request.busID != nil), ("day", request.day != nil)]
        case .requireVisit, .forbidVisit: needs = [("reference", request.reference != nil), ("venueID", request.venueID != nil)]
        case .lockTour: needs = [("busID", request.busID != nil), ("day", request.day != nil)]
        case .reserveSeats: needs = [("busID", request.busID != nil), ("seats", (request.seats ?? 0) > 0)]
        }
        let missing = needs.filter { !$0.1 }.map(\.0)
        guard missing.isEmpty else {
            return .failure(RequestProblem(description: "\(kind.rawValue) needs \(missing.joined(separator: ", "))"))
        }
        return .success(
            PlanningOverride(
                id: request.overrideID, kind: kind,
                delegationID: request.reference.map { registrationID(eventID: request.eventID, reference: $0) }, busID: request.busID,
                day: request.day, venueID: request.venueID, seats: request.seats))
    }

    /// Records a re-optimisation request for the planning service (the same request id twice
    /// is one request).
    func reoptimise(_ message: Message<PlanReoptimiseRequested>, _ db: Database) throws -> [OutboundMessage] {
        let request = message.payload
        guard try ItineraryStore.request(eventID: request.eventID, id: request.requestID, in: db) == nil else { return [] }
        try ItineraryStore.save(
            PlanRequestRecord(
                eventID: request.eventID, requestID: request.requestID, applyPreview: request.applyPreview, status: .pending,
                generation: nil, basedOnVersion: nil, body: nil, correlationID: message.correlationID,
                requestedAt: request.requestedAt ?? Date()),
            in: db)
        return []
    }
}
