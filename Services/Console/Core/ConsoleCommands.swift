import Foundation
import GRDB
import Messages
import ServiceRuntime

/// What an organiser does from the pages: a command message written to the outbox in the same
/// transaction as the action's record and its audit entry (the relay publishes it with
/// confirms), answered later by an event the console consumes (`ConsoleHandler`). The console
/// never writes another service's store nor calls its HTTP side.
public enum ConsoleCommands {
    public enum Refusal: Error, CustomStringConvertible, Equatable {
        case unknownRegistration(String)
        case notActive(String)
        case invalid(String)

        public var description: String {
            switch self {
            case .unknownRegistration(let id): return "no registration \(id)"
            case .notActive(let reference): return "registration \(reference) is cancelled already"
            case .invalid(let reason): return reason
            }
        }
    }

    /// Asks registrations to cancel `registrationID`.
    public static func cancel(registrationID: String, reason: String?, by account: String, now: Date = Date(), in db: Database) throws
        -> ConsoleAction
    {
        guard
            let row = try Row.fetchOne(
                db, sql: "SELECT event_id, reference, status FROM registrations WHERE registration_id = ?", arguments: [registrationID])
        else { throw Refusal.unknownRegistration(registrationID) }
        let reference: String = row["reference"]
        guard row["status"] != RegistrationStatus.cancelled.rawValue else { throw Refusal.notActive(reference) }
        let action = ConsoleAction(kind: .cancel, subject: registrationID, account: account, requestedAt: now)
        let message = try OutboundMessage(
            RegistrationCancelRequested(
                eventID: row["event_id"], reference: reference,
                reason: reason.nonEmpty ?? "cancelled by the organisers", requestedAt: now),
            correlationID: action.id)
        try record(action, message, in: db)
        return action
    }

    /// Asks the planner to keep an override (or to withdraw one). Checked here only for what a
    /// form can get wrong; whether the plan can keep it is the planner's answer.
    public static func override(_ request: PlanOverrideRequested, by account: String, now: Date = Date(), in db: Database) throws
        -> ConsoleAction
    {
        guard request.overrideID.range(of: "^[A-Za-z0-9._:-]{1,80}$", options: .regularExpression) != nil else {
            throw Refusal.invalid("an override id is 1 to 80 letters, digits, '.', '_', ':' or '-'")
        }
        if !request.withdraw {
            guard let kind = request.kind else { throw Refusal.invalid("say what the override keeps") }
            switch kind {
            case .pin:
                guard request.reference != nil, request.busID != nil, request.day != nil else {
                    throw Refusal.invalid("a pin names the delegation, the bus and the day")
                }
            case .requireVisit, .forbidVisit:
                guard request.reference != nil, request.venueID != nil else {
                    throw Refusal.invalid("a visit override names the delegation and the venue")
                }
            case .lockTour:
                guard request.busID != nil, request.day != nil else { throw Refusal.invalid("a locked tour names the bus and the day") }
            case .reserveSeats:
                guard request.busID != nil, let seats = request.seats, seats > 0 else {
                    throw Refusal.invalid("a reservation names the bus and how many seats")
                }
            }
        }
        let action = ConsoleAction(kind: .override, subject: request.overrideID, account: account, requestedAt: now)
        // The request as sent: the form's fields, signed with the account and the time.
        let message = try OutboundMessage(
            PlanOverrideRequested(
                eventID: request.eventID, overrideID: request.overrideID, kind: request.kind, withdraw: request.withdraw,
                reference: request.reference, busID: request.busID, day: request.day, venueID: request.venueID, seats: request.seats,
                reason: request.reason, requestedBy: account, requestedAt: now),
            correlationID: action.id)
        try ConsoleStore.saveOverrideRequest(try message.decode(PlanOverrideRequested.self), in: db)
        try record(action, message, in: db)
        return action
    }

    /// Asks notifications to send a notification again (same message, recipient and channels).
    public static func resend(notificationID: String, by account: String, now: Date = Date(), in db: Database) throws -> ConsoleAction {
        guard
            let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT registrations.registration_id, registrations.event_id, registrations.erased FROM notifications
                    JOIN registrations ON registrations.registration_id = notifications.registration_id
                    WHERE notifications.notification_id = ?
                    """, arguments: [notificationID])
        else { throw Refusal.invalid("no notification \(notificationID) of a registration") }
        guard row["erased"] == false else { throw Refusal.invalid("the registration's people were erased: nobody to write to") }
        let requestID = "console-\(Accounts.randomToken().prefix(12))"
        let request = NotificationResendRequested(
            notificationID: notificationID, registrationID: row["registration_id"], eventID: row["event_id"], requestID: requestID)
        let action = ConsoleAction(kind: .resend, subject: request.copyID, account: account, requestedAt: now)
        let message = try OutboundMessage(
            NotificationResendRequested(
                notificationID: notificationID, registrationID: request.registrationID, eventID: request.eventID, requestID: requestID,
                requestedBy: account, requestedAt: now),
            correlationID: action.id)
        try record(action, message, in: db)
        return action
    }

    /// Asks for a re-optimised plan as a preview (`applying` nil), or to apply a preview.
    public static func reoptimise(eventID: String, applying preview: String? = nil, by account: String, now: Date = Date(), in db: Database)
        throws -> ConsoleAction
    {
        let requestID = preview ?? "console-\(Accounts.randomToken().prefix(12))"
        let action = ConsoleAction(kind: preview == nil ? .reoptimise : .apply, subject: requestID, account: account, requestedAt: now)
        let message = try OutboundMessage(
            PlanReoptimiseRequested(eventID: eventID, requestID: requestID, applyPreview: preview, requestedBy: account, requestedAt: now),
            correlationID: action.id)
        try record(action, message, in: db)
        return action
    }

    /// The command in the outbox, the action waiting for its answer, and the audit entry, in the
    /// caller's transaction.
    private static func record(_ action: ConsoleAction, _ message: OutboundMessage, in db: Database) throws {
        try Outbox.append([message], causedBy: action.id, service: ConsoleService.description.name, in: db)
        try ConsoleStore.recordAction(action, in: db)
        try Accounts.audit(
            account: action.account, action: message.type.rawValue, subject: action.subject, outcome: "sent", now: action.requestedAt,
            in: db)
    }
}
