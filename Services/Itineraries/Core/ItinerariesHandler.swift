import Foundation
import GRDB
import ItineraryPlanner
import Messages
import ServiceRuntime

/// Records what planning depends on — the programme, accepted and cancelled registrations — and
/// marks the event for re-planning. The plan itself is made by `PlanningService`, once a burst
/// of changes has settled, not once per message.
public struct ItinerariesHandler: Sendable {
    /// What itineraries consumes, and with what.
    public static let router: MessageRouter<ItinerariesHandler> = {
        var router = MessageRouter<ItinerariesHandler>()
        router.on(ProgrammePublished.self) { try $0.programme($1, $2) }
        router.on(RegistrationAccepted.self) { try $0.accepted($1, $2) }
        router.on(RegistrationCancelled.self) { try $0.cancelled($1, $2) }
        router.emits(ItineraryPlanned.self, ItineraryChanged.self)  // by the planning service
        return router
    }()

    private let vault: IdentityVault

    public init(vault: IdentityVault) { self.vault = vault }

    /// The routes bound to this handler.
    public var dispatcher: Dispatcher { Self.router.dispatcher(for: self) }

    func programme(_ message: Message<ProgrammePublished>, _ db: Database) throws -> [OutboundMessage] {
        let programme = message.payload
        if let known = try ItineraryStore.programme(programme.eventID, in: db), known.version >= programme.version { return [] }
        try ItineraryStore.save(programme, in: db)
        try ItineraryStore.markChanged(programme.eventID, in: db)
        return []
    }

    func accepted(_ message: Message<RegistrationAccepted>, _ db: Database) throws -> [OutboundMessage] {
        let accepted = message.payload
        if let known = try ItineraryStore.delegation(accepted.registrationID, in: db), known.revision > accepted.revision { return [] }
        let documents = accepted.delegation.delegates.map(\.identityDocument)
        let sealed = documents.contains { $0 != nil } ? try vault.seal(documents, registrationID: accepted.registrationID) : nil
        try ItineraryStore.save(
            .init(
                planning: PlanningDelegation(accepted), eventID: accepted.eventID, revision: accepted.revision, active: true,
                correlationID: message.correlationID),
            sealed: sealed, in: db)
        try ItineraryStore.markChanged(accepted.eventID, in: db)
        return []
    }

    func cancelled(_ message: Message<RegistrationCancelled>, _ db: Database) throws -> [OutboundMessage] {
        let cancelled = message.payload
        guard var known = try ItineraryStore.delegation(cancelled.registrationID, in: db), known.active else { return [] }
        known.active = false
        try ItineraryStore.save(known, sealed: nil, in: db)
        try ItineraryStore.markChanged(cancelled.eventID, in: db)
        return []
    }
}
