import Foundation
import GRDB
import ItineraryPlanner
import Messages
import ServiceRuntime

/// Records what planning depends on — the programme, accepted and cancelled registrations — and
/// marks the event for re-planning. The plan itself is made by `PlanningService`, once a burst
/// of changes has settled, not once per message.
public struct ItinerariesHandler: MessageHandler {
    public let consumes = SystemServices.itineraries.consumes
    private let vault: IdentityVault

    public init(vault: IdentityVault) { self.vault = vault }

    public func handle(_ message: IncomingMessage, in db: Database) throws -> [OutboundMessage] {
        switch message.payload {
        case let programme as ProgrammePublished:
            if let known = try ItineraryStore.programme(programme.eventID, in: db), known.version >= programme.version { return [] }
            try ItineraryStore.save(programme, in: db)
            try ItineraryStore.markDirty(programme.eventID, in: db)
        case let accepted as RegistrationAccepted:
            if let known = try ItineraryStore.delegation(accepted.registrationID, in: db), known.revision > accepted.revision { return [] }
            let documents = accepted.delegation.delegates.map(\.identityDocument)
            let sealed = documents.contains { $0 != nil } ? try vault.seal(documents, registrationID: accepted.registrationID) : nil
            try ItineraryStore.save(
                .init(planning: PlanningDelegation(accepted), eventID: accepted.eventID, revision: accepted.revision, active: true, correlationID: message.correlationID),
                sealed: sealed, in: db)
            try ItineraryStore.markDirty(accepted.eventID, in: db)
        case let cancelled as RegistrationCancelled:
            guard var known = try ItineraryStore.delegation(cancelled.registrationID, in: db), known.active else { return [] }
            known.active = false
            try ItineraryStore.save(known, sealed: nil, in: db)
            try ItineraryStore.markDirty(cancelled.eventID, in: db)
        default:
            throw HandlerFailure.permanent("itineraries does not handle \(message.type.rawValue)")
        }
        return []
    }
}
