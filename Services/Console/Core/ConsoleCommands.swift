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
        let request = RegistrationCancelRequested(
            eventID: row["event_id"], reference: reference,
            reason: reason.flatMap { $0.isEmpty ? nil : $0 } ?? "cancelled by the organisers",
            requestedAt: now)
        return try send(request, kind: .cancel, subject: registrationID, by: account, now: now, in: db)
    }

    /// Asks the planner to keep an override (or to withdraw one). Checked here only for what a
    /// form can get wrong; whether the plan can keep it is the planner's answer.
    public static func override(_ request: PlanOverrideRequested, by account: String, now: Date = Date(), in db: Database) throws
        -> ConsoleAction
    {
        var request = request
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
        request.requestedBy = account
        request.requestedAt = now
        try ConsoleStore.saveOverrideRequest(request, in: db)
        return try send(request, kind: .override, subject: request.overrideID, by: account, now: now, in: db)
    }

    /// Asks for a re-optimised plan as a preview (`applying` nil), or to apply a preview.
    public static func reoptimise(eventID: String, applying preview: String? = nil, by account: String, now: Date = Date(), in db: Database)
        throws -> ConsoleAction
    {
        let requestID = preview ?? "console-\(Accounts.randomToken().prefix(12))"
        let request = PlanReoptimiseRequested(
            eventID: eventID, requestID: requestID, applyPreview: preview, requestedBy: account, requestedAt: now)
        return try send(request, kind: preview == nil ? .reoptimise : .apply, subject: requestID, by: account, now: now, in: db)
    }

    private static func send<T: MessagePayload>(
        _ payload: T, kind: ConsoleAction.Kind, subject: String, by account: String, now: Date, in db: Database
    ) throws -> ConsoleAction {
        let action = ConsoleAction(
            id: "action-\(Accounts.randomToken().prefix(16))", kind: kind, subject: subject, account: account, requestedAt: now)
        try Outbox.append(
            [try OutboundMessage(payload, correlationID: action.id)], causedBy: action.id, service: ConsoleService.description.name,
            in: db)
        try ConsoleStore.recordAction(action, in: db)
        try Accounts.audit(account: account, action: T.messageType.rawValue, subject: subject, outcome: "sent", now: now, in: db)
        return action
    }
}
