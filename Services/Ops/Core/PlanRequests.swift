import AMQP
import Foundation
import Messages
import ServiceRuntime
import Synchronization

/// The requests `delegation-ops plan` sends to the itineraries service's planner, built and
/// checked from the command line's options without a broker, and the wait for their answers.
///
/// `plan override` sends `plan.override-requested` (answered by `plan.override-decided`),
/// `plan reoptimise` sends `plan.reoptimise-requested` (answered by `plan.reoptimised`). The
/// checks here are those a command line can make (what each kind needs, one kind at a time, a
/// day that is a date); whether the bus, the day, the venue and the delegation exist in the
/// event, and whether the override contradicts another, only the itineraries service can say:
/// it refuses such an override in its answer, with the reason.
public enum PlanRequests {
    /// The options of `delegation-ops plan override`, as given.
    public struct OverrideOptions: Sendable, Equatable {
        public var eventID: String
        public var overrideID: String
        public var pin = false
        public var requireVisit = false
        public var forbidVisit = false
        public var lockTour = false
        /// `--reserve-seats N`.
        public var reserveSeats: Int?
        public var withdraw = false
        public var reference: String?
        public var busID: String?
        public var day: String?
        public var venueID: String?
        public var reason: String?
        public var requestedBy: String?

        public init(eventID: String, overrideID: String) {
            self.eventID = eventID
            self.overrideID = overrideID
        }
    }

    /// The kind's command-line flag.
    public static func flag(_ kind: PlanOverrideRequested.Kind) -> String { "--\(kind.rawValue)" }

    /// The request the options describe, or `OpsError.usage` saying what is missing, what does
    /// not go together or which value is wrong (nothing is sent then).
    public static func override(_ options: OverrideOptions, requestedAt: Date) throws -> PlanOverrideRequested {
        let eventID = try required("--event", options.eventID)
        let overrideID = try required("--id", options.overrideID)
        let reference = try optional("--reference", options.reference)
        let busID = try optional("--bus", options.busID)
        let day = try optional("--day", options.day)
        let venueID = try optional("--venue", options.venueID)
        let reason = try optional("--reason", options.reason)
        let requestedBy = try optional("--requested-by", options.requestedBy)

        let chosen: [PlanOverrideRequested.Kind] = [
            options.pin ? .pin : nil, options.requireVisit ? .requireVisit : nil, options.forbidVisit ? .forbidVisit : nil,
            options.lockTour ? .lockTour : nil, options.reserveSeats != nil ? .reserveSeats : nil,
        ].compactMap { $0 }
        let given: [(option: String, present: Bool)] = [
            ("--reference", reference != nil), ("--bus", busID != nil), ("--day", day != nil), ("--venue", venueID != nil),
        ]
        let kinds = PlanOverrideRequested.Kind.allCases.map(flag).joined(separator: ", ")

        if options.withdraw {
            let extra = chosen.map(flag) + given.filter(\.present).map(\.option)
            guard extra.isEmpty else {
                throw OpsError.usage(
                    "--withdraw takes the override '\(overrideID)' back as a whole: give it with --event and --id only "
                        + "(--reason and --requested-by are kept), not with \(list(extra))")
            }
            return PlanOverrideRequested(
                eventID: eventID, overrideID: overrideID, kind: nil, withdraw: true, reason: reason, requestedBy: requestedBy,
                requestedAt: requestedAt)
        }
        guard let kind = chosen.first else {
            throw OpsError.usage("say what the planner must keep: one of \(kinds) (or --withdraw to take the override back)")
        }
        guard chosen.count == 1 else {
            throw OpsError.usage(
                "\(list(chosen.map(flag))) cannot be combined: an override is one decision; "
                    + "send one override per decision, each with its own --id")
        }

        let needs: [String]
        switch kind {
        case .pin: needs = ["--reference", "--bus", "--day"]
        case .requireVisit, .forbidVisit: needs = ["--reference", "--venue"]
        case .lockTour: needs = ["--bus", "--day"]
        case .reserveSeats: needs = ["--bus"]
        }
        let allowed = kind == .reserveSeats ? needs + ["--day"] : needs
        let missing = needs.filter { option in !given.contains { $0.option == option && $0.present } }
        guard missing.isEmpty else {
            throw OpsError.usage("\(flag(kind)) needs \(list(needs)): \(list(missing)) \(missing.count == 1 ? "is" : "are") missing")
        }
        let unused = given.filter { $0.present && !allowed.contains($0.option) }.map(\.option)
        guard unused.isEmpty else {
            throw OpsError.usage("\(flag(kind)) takes \(list(allowed)), not \(list(unused))")
        }
        if let day, !isDay(day) {
            throw OpsError.usage("--day '\(day)' is not a date: give YYYY-MM-DD (2026-01-13), the day in the event's time zone")
        }
        if let seats = options.reserveSeats, seats < 1 {
            throw OpsError.usage("--reserve-seats takes the number of seats to keep free, 1 or more (not \(seats))")
        }
        return PlanOverrideRequested(
            eventID: eventID, overrideID: overrideID, kind: kind, reference: reference, busID: busID, day: day, venueID: venueID,
            seats: options.reserveSeats, reason: reason, requestedBy: requestedBy, requestedAt: requestedAt)
    }

    /// `plan.reoptimise-requested`: a preview (no `applyPreview`) or the application of the
    /// preview whose request id is `applyPreview`. Without `requestID`, a fresh one.
    public static func reoptimise(
        eventID: String, requestID: String? = nil, applyPreview: String? = nil, requestedBy: String? = nil, requestedAt: Date
    ) throws -> PlanReoptimiseRequested {
        let eventID = try required("--event", eventID)
        let requestID = try optional("--id", requestID) ?? newRequestID(at: requestedAt)
        let applyPreview = try optional("--apply", applyPreview)
        if let applyPreview, applyPreview == requestID {
            throw OpsError.usage(
                "--apply names the preview to apply (the id of an earlier request) and --id this request: they cannot be the same")
        }
        return PlanReoptimiseRequested(
            eventID: eventID, requestID: requestID, applyPreview: applyPreview, requestedBy: try optional("--requested-by", requestedBy),
            requestedAt: requestedAt)
    }

    /// `reoptimise-20260113T070000Z-1a2b3c4d`: the time (UTC, to the second) and 8 random hex
    /// digits.
    public static func newRequestID(at date: Date) -> String {
        let time = MessageCoding.format(Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down)))
            .filter { $0 != "-" && $0 != ":" }
        let random = UUID().uuidString.lowercased().filter(\.isHexDigit).prefix(8)
        return "reoptimise-\(time)-\(random)"
    }

    /// Who asks when `--requested-by` is not given: the operating system's user name.
    public static func defaultRequester(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        let name = ProcessInfo.processInfo.userName
        if !name.isEmpty { return name }
        return [environment["USER"], environment["LOGNAME"]].compactMap { $0 }.first { !$0.isEmpty }
    }

    /// A message body as it is sent, indented for a person.
    public static func json<Value: Encodable>(_ value: Value) throws -> String {
        let encoder = MessageCoding.makeEncoder()
        encoder.outputFormatting.insert(.prettyPrinted)
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// Whether `text` is a calendar date written `YYYY-MM-DD`.
    public static func isDay(_ text: String) -> Bool {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts.map(\.count) == [4, 2, 2], parts.allSatisfy({ $0.allSatisfy(\.isASCII) }),
            let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2])
        else { return false }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        return DateComponents(calendar: calendar, year: year, month: month, day: day).isValidDate
    }

    // MARK: The answer

    /// Whether `answer` is the itineraries service's answer to `request`.
    public static func answers(_ answer: PlanOverrideDecided, _ request: PlanOverrideRequested) -> Bool {
        answer.eventID == request.eventID && answer.overrideID == request.overrideID
    }

    /// Whether `answer` is the answer to `request`: the preview it asked for, or the outcome of
    /// applying the preview it named.
    public static func answers(_ answer: PlanReoptimised, _ request: PlanReoptimiseRequested) -> Bool {
        guard answer.eventID == request.eventID else { return false }
        if answer.requestID == request.requestID { return true }
        return request.applyPreview != nil && answer.requestID == request.applyPreview && answer.outcome != .previewed
    }

    /// Starts reading the archive stream (`<exchange>.archive`) from its end, runs `send`, and
    /// waits up to `seconds` for the first `Answer` that `matches`; nil if none came in time.
    /// The archive keeps every domain message, the itineraries service's answers included.
    public static func awaitingAnswer<Answer: MessagePayload>(
        _ type: Answer.Type, exchange: String, connection configuration: AMQPConfiguration, within seconds: Double,
        matching matches: @escaping @Sendable (Answer) -> Bool, send: () async throws -> Void
    ) async throws -> Answer? {
        try await awaitingAnswers(
            type, exchange: exchange, connection: configuration, within: seconds, matching: matches, until: { !$0.isEmpty }, send: send
        ).first
    }

    /// As `awaitingAnswer`, collecting every `Answer` that `matches` until `done` says they are
    /// all there or `seconds` have passed: what came, in order.
    public static func awaitingAnswers<Answer: MessagePayload>(
        _ type: Answer.Type, exchange: String, connection configuration: AMQPConfiguration, within seconds: Double,
        matching matches: @escaping @Sendable (Answer) -> Bool, until done: @escaping @Sendable ([Answer]) -> Bool,
        send: () async throws -> Void
    ) async throws -> [Answer] {
        let archive = ServiceNames(service: "", exchange: exchange).archive
        return try await withConnection(configuration, name: "delegation-ops (answer)") { connection in
            guard try await connection.queueExists(archive) else {
                throw OpsError.notFound("the archive stream \(archive) does not exist; run `delegation-ops topology apply`")
            }
            // From the end: what is published from now on, the answer to what is sent next included.
            let consumer = try await connection.consume(queue: archive, prefetch: 200, arguments: ["x-stream-offset": .string("next")])
            do {
                try await send()
            } catch {
                await consumer.cancel()
                throw error
            }
            let received = Mutex<[Answer]>([])
            _ = try await OpsTime.within(seconds) { () -> Bool? in
                for try await delivery in consumer {
                    delivery.ack()
                    guard (delivery.properties.type ?? delivery.routingKey) == Answer.messageType.rawValue,
                        let answer = try? MessageCoding.decode(Answer.self, from: delivery.body), matches(answer)
                    else { continue }
                    let all = received.withLock { list in
                        list.append(answer)
                        return list
                    }
                    if done(all) { return true }
                }
                return nil
            }
            await consumer.cancel()
            return received.withLock { $0 }
        }
    }

    // MARK: Helpers

    private static func required(_ option: String, _ value: String) throws -> String {
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw OpsError.usage("\(option) must not be empty") }
        return trimmed
    }

    private static func optional(_ option: String, _ value: String?) throws -> String? {
        try value.map { try required(option, $0) }
    }

    /// `a`, `a and b`, `a, b and c`.
    private static func list(_ items: [String]) -> String {
        guard items.count > 1 else { return items.first ?? "" }
        return items.dropLast().joined(separator: ", ") + " and " + (items.last ?? "")
    }
}
