import Foundation
import GRDB
import Messages
import ServiceRuntime

/// Keeps the console's read model: the programme, each registration's standing and history, its
/// itinerary, every notification's outcome, the organisers' overrides and re-optimisations, and
/// the answers to the console's own actions. Nothing here sends anything; the console acts only
/// through command messages (`ConsoleCommands`), answered by the events below.
public struct ConsoleHandler: Sendable, OpensPersonalData {
    public static let router: MessageRouter<ConsoleHandler> = {
        var router = MessageRouter<ConsoleHandler>()
        router.on(ProgrammePublished.self) { _, message, db in
            try ConsoleStore.saveProgramme(message.payload, in: db)
            return []
        }
        router.on(RegistrationAccepted.self) { handler, message, db in
            let accepted = message.payload
            try ConsoleStore.saveRegistration(
                id: accepted.registrationID, eventID: accepted.eventID, reference: accepted.reference, revision: accepted.revision,
                status: .accepted, delegation: accepted.delegation, waitlistPosition: nil, at: accepted.acceptedAt,
                sealedDocuments: try handler.sealedDocuments(accepted.delegation.delegates, reference: accepted.reference), in: db)
            try ConsoleStore.addHistory(
                registrationID: accepted.registrationID, messageID: message.metadata.messageID, at: accepted.acceptedAt,
                status: accepted.promoted ? "promoted" : "accepted", revision: accepted.revision, detail: nil, in: db)
            return []
        }
        router.on(RegistrationWaitlisted.self) { _, message, db in
            let waitlisted = message.payload
            try ConsoleStore.saveRegistration(
                id: waitlisted.registrationID, eventID: waitlisted.eventID, reference: waitlisted.reference,
                revision: waitlisted.revision, status: .waitlisted, delegation: waitlisted.delegation,
                waitlistPosition: waitlisted.position, at: waitlisted.waitlistedAt, in: db)
            try ConsoleStore.addHistory(
                registrationID: waitlisted.registrationID, messageID: message.metadata.messageID, at: waitlisted.waitlistedAt,
                status: "waitlisted", revision: waitlisted.revision, detail: "#\(waitlisted.position)", in: db)
            return []
        }
        router.on(RegistrationCancelled.self) { _, message, db in
            let cancelled = message.payload
            // (The message has no revision: the registration keeps the last it had.)
            try ConsoleStore.saveRegistration(
                id: cancelled.registrationID, eventID: cancelled.eventID, reference: cancelled.reference, revision: 0,
                status: .cancelled, delegation: cancelled.delegation, waitlistPosition: nil, at: cancelled.cancelledAt, in: db)
            try ConsoleStore.addHistory(
                registrationID: cancelled.registrationID, messageID: message.metadata.messageID, at: cancelled.cancelledAt,
                status: "cancelled", revision: nil, detail: cancelled.reason, in: db)
            try ConsoleStore.answer(kind: .cancel, subject: cancelled.registrationID, status: .done, outcome: "cancelled", in: db)
            return []
        }
        router.on(RegistrationRejected.self) { _, message, db in
            let rejected = message.payload
            try ConsoleStore.saveRejection(rejected, messageID: message.metadata.messageID, in: db)
            let issues = rejected.issues.map(\.message).joined(separator: "; ")
            if let id = rejected.registrationID {
                try ConsoleStore.addHistory(
                    registrationID: id, messageID: message.metadata.messageID, at: rejected.rejectedAt,
                    status: rejected.request == .registrationCancelRequested ? "cancel refused" : "amendment refused",
                    revision: rejected.revision, detail: issues, in: db)
                if rejected.request == .registrationCancelRequested {
                    try ConsoleStore.answer(kind: .cancel, subject: id, status: .refused, outcome: issues, in: db)
                }
            }
            return []
        }
        router.on(ItineraryPlanned.self) { _, message, db in
            let planned = message.payload
            try ConsoleStore.saveItinerary(
                registrationID: planned.registrationID, eventID: planned.eventID, version: planned.planVersion,
                timeZone: planned.timeZone, items: planned.items, unmet: planned.unmet, at: planned.plannedAt, in: db)
            return []
        }
        router.on(ItineraryChanged.self) { _, message, db in
            let changed = message.payload
            try ConsoleStore.saveItinerary(
                registrationID: changed.registrationID, eventID: changed.eventID, version: changed.planVersion,
                timeZone: changed.timeZone, items: changed.items, unmet: changed.unmet, at: changed.changedAt, in: db)
            return []
        }
        router.on(NotificationDelivered.self) { _, message, db in
            let delivered = message.payload
            try ConsoleStore.saveNotification(
                id: delivered.notificationID, registrationID: delivered.registrationID, kind: delivered.kind, channel: delivered.channel,
                outcome: "delivered", attempts: delivered.attempts, reason: nil, at: delivered.deliveredAt, in: db)
            try ConsoleStore.answer(kind: .resend, subject: delivered.notificationID, status: .done, outcome: "delivered", in: db)
            return []
        }
        router.on(NotificationFailed.self) { _, message, db in
            let failed = message.payload
            try ConsoleStore.saveNotification(
                id: failed.notificationID, registrationID: failed.registrationID, kind: failed.kind, channel: failed.channel,
                outcome: "failed", attempts: failed.attempts, reason: failed.reason, at: failed.failedAt, in: db)
            try ConsoleStore.answer(kind: .resend, subject: failed.notificationID, status: .refused, outcome: "failed", in: db)
            return []
        }
        router.on(PlanOverrideRequested.self) { _, message, db in
            try ConsoleStore.saveOverrideRequest(message.payload, in: db)
            return []
        }
        router.on(PlanOverrideDecided.self) { _, message, db in
            let decided = message.payload
            try ConsoleStore.saveOverrideDecision(decided, in: db)
            let outcome = [decided.outcome.rawValue, decided.reason].compactMap { $0 }.joined(separator: ": ")
            try ConsoleStore.answer(
                kind: .override, subject: decided.overrideID, status: decided.outcome == .refused ? .refused : .done, outcome: outcome,
                in: db)
            return []
        }
        router.on(PlanReoptimised.self) { _, message, db in
            let answer = message.payload
            try ConsoleStore.saveReoptimisation(answer, in: db)
            let outcome = [answer.outcome.rawValue, answer.reason].compactMap { $0 }.joined(separator: ": ")
            let status: ConsoleAction.Status = answer.outcome == .refused ? .refused : .done
            // A preview answers the request for it; an apply (or its refusal) the request to apply.
            let kind: ConsoleAction.Kind = answer.outcome == .previewed ? .reoptimise : .apply
            try ConsoleStore.answer(kind: kind, subject: answer.requestID, status: status, outcome: outcome, in: db)
            return []
        }
        // The marshals' check-ins: the console's own (kept when recorded) and their copies from the
        // broker or a replay, kept once.
        router.on(CheckinRecorded.self) { _, message, db in
            try ConsoleStore.saveCheckin(message.payload, in: db)
            return []
        }
        // Likewise its alerts of riders missing at departure, and the answers that someone will
        // not come.
        router.on(BoardingMissed.self) { _, message, db in
            try ConsoleStore.saveAlert(message.payload, in: db)
            return []
        }
        router.on(AttendanceDeclined.self) { _, message, db in
            try ConsoleStore.saveAbsence(message.payload, in: db)
            return []
        }
        router.on(RegistrationEraseRequested.self) { _, message, db in
            let request = message.payload
            try DataKeys.forget(registrationID: request.registrationID, eventID: request.eventID, in: db)
            let found = try ConsoleStore.erase(registrationID: request.registrationID, in: db)
            // The organisers' commands about it (a cancellation's reason) leave the outbox too.
            try Outbox.erase(registrationID: request.registrationID, eventID: request.eventID, reference: request.reference, in: db)
            return [
                try OutboundMessage(
                    RegistrationErased(
                        eventID: request.eventID, registrationID: request.registrationID, reference: request.reference,
                        service: ConsoleService.description.name, found: found, erasedAt: Date()),
                    correlationID: message.metadata.correlationID)
            ]
        }
        router.keepsDataKeys()
        // Published by the pages, through the outbox (`ConsoleCommands`).
        router.emits(
            RegistrationCancelRequested.self, PlanOverrideRequested.self, PlanReoptimiseRequested.self, NotificationResendRequested.self,
            CheckinRecorded.self, BoardingMissed.self, AttendanceDeclined.self)
        router.emits(RegistrationErased.self)
        return router
    }()

    /// The console's document keys; nil: no document numbers are kept.
    let documentKeys: DocumentKeys?

    public init(documentKeys: DocumentKeys? = nil) { self.documentKeys = documentKeys }

    public var dispatcher: Dispatcher { Self.router.dispatcher(for: self) }

    /// Each person's identity document as the console keeps it: sealed to its own key (the copy
    /// registrations sealed to it, or a plain document sealed here), never in plain text; nil
    /// for a person without one, and nil altogether without keys. A copy sealed to a key the
    /// console does not hold is not kept: the number is then not shown, and nothing else is lost.
    func sealedDocuments(_ delegates: [Delegate], reference: String) throws -> [SealedDocument?]? {
        guard let documentKeys, let current = documentKeys.current else { return nil }
        let documents = try delegates.map { delegate -> SealedDocument? in
            if let copy = delegate.sealedCopy(for: documentKeys) { return copy }
            return try delegate.identityDocument.map { try SealedDocument.seal($0, to: current, reference: reference) }
        }
        return documents.contains { $0 != nil } ? documents : nil
    }
}
