import Foundation
import GRDB
import Logging
import Messages
import ServiceRuntime

/// The registrations service's rules, applied inside the pipeline's transaction.
///
/// - `registration.submitted`: deduplicated by (event, reference): a lower or equal revision is
///   ignored before anything else is judged; otherwise validated (every issue at once →
///   `registration.rejected`). A higher revision amends and re-emits the status (an accepted
///   delegation keeps its places; only delegates it adds need free ones); a new delegation is
///   accepted if the event has room for one more organisation and its delegates and nobody waits
///   ahead of it, else waitlisted.
/// - `registration.cancel-requested`: frees the places (or the place in line) and promotes from
///   the waiting list in arrival order (strictly: the head must fit before anyone behind it moves
///   up). A request for a reference not known yet waits up to `cancellationWait` for its
///   submission (which is then cancelled as soon as it is placed); if none comes, the request is
///   answered with `registration.rejected`, code `unknown_reference` (`expireCancellations`).
/// - `programme.published`: the event's capacity, deadline and time zone; more room promotes.
/// - A delegation larger than the whole event waits without holding back anyone: the list's
///   head is the first waiting delegation that an empty event could take.
/// - `registration.erase-requested`: the people's data goes, and their data key with it; a later
///   submission or cancellation for the registration is ignored (logged, never answered).
///
/// Personal data (contract 1.3): every submission is recorded as `registration.recorded`, and
/// every answer is sent, with its personal fields sealed under the registration's data key
/// (`DataKeyStore`); a new key goes first to the consumers in `registration.data-key`, and
/// `registration.data-keys-requested` sends them all again. A replay rebuilds the store from
/// the archived `registration.recorded` (the archive does not keep `registration.submitted`).
///
/// Every answer carries the `correlation_id` of the request it answers.
public struct RegistrationsHandler: Sendable {
    /// What registrations consumes, and with what.
    public static let router: MessageRouter<RegistrationsHandler> = {
        var router = MessageRouter<RegistrationsHandler>()
        router.on(RegistrationSubmitted.self, unreadable: { $0.answers(to: $1) }) { try $0.submit($1, $2) }
        router.on(RegistrationCancelRequested.self, unreadable: { $0.answers(to: $1) }) { try $0.cancel($1, $2) }
        router.on(ProgrammePublished.self) { try $0.publish($1.payload, $2) }
        router.on(RegistrationEraseRequested.self) { try $0.erase($1, $2) }
        router.on(RegistrationDataKeysRequested.self) { try $0.sendKeys($1, $2) }
        router.on(RegistrationRecorded.self) { try $0.replayed($1, $2) }
        router.onlyReplayed(RegistrationRecorded.self)
        router.emits(
            RegistrationAccepted.self, RegistrationWaitlisted.self, RegistrationRejected.self, RegistrationCancelled.self,
            RegistrationErased.self, RegistrationRecorded.self, RegistrationDataKey.self)
        router.emits(RegistrationEraseRequested.self)  // by the retention schedule
        return router
    }()

    private let vault: IdentityVault
    private let keys: DataKeyStore
    private let sealing: DocumentSealing
    private let validator: RegistrationValidator
    /// Seconds a cancellation for an unknown reference waits for its submission.
    public let cancellationWait: Double
    private let clock: @Sendable () -> Date
    private let logger: Logger

    public init(
        vault: IdentityVault, keys: DataKeyStore, sealing: DocumentSealing = DocumentSealing(),
        validator: RegistrationValidator = RegistrationValidator(), cancellationWait: Double = 900,
        clock: @escaping @Sendable () -> Date = { Date() }, logger: Logger = Logger(label: "registrations")
    ) {
        self.vault = vault
        self.keys = keys
        self.sealing = sealing
        self.validator = validator
        self.cancellationWait = cancellationWait
        self.clock = clock
        self.logger = logger
    }

    /// The routes bound to this handler.
    public var dispatcher: Dispatcher { Self.router.dispatcher(for: self) }

    // MARK: Submissions

    func submit(_ message: Message<RegistrationSubmitted>, _ db: Database) throws -> [OutboundMessage] {
        let submission = message.payload
        let registrationID = Messages.registrationID(eventID: submission.eventID, reference: submission.reference)
        guard try !ignoredAfterErasure(registrationID, message.metadata, db) else { return [] }
        // The record's id is its own: the answers keep the ids a replay of the record gives them.
        let record = try sealed(
            RegistrationRecorded(
                registrationID: registrationID, submissionMessageID: message.messageID, receivedAt: message.receivedAt,
                correlationID: message.answerCorrelationID, submission: submission),
            correlationID: message.answerCorrelationID, origin: .init(cause: "recorded|\(message.messageID)", index: 0), db)
        return try record + decide(message, db)
    }

    /// A submission the archive kept as `registration.recorded`, replayed into this store; skipped
    /// if the store took the submission itself, which counts as taken afterwards.
    func replayed(_ message: Message<RegistrationRecorded>, _ db: Database) throws -> [OutboundMessage] {
        let recorded = message.payload
        guard try !Inbox.applied(recorded.submissionMessageID, in: db) else { return [] }
        let metadata = MessageMetadata(
            type: .registrationSubmitted, messageID: recorded.submissionMessageID, correlationID: recorded.correlationID,
            receivedAt: recorded.receivedAt, trace: message.metadata.trace)
        try Inbox.markApplied(metadata, in: db)
        guard try !ignoredAfterErasure(recorded.registrationID, metadata, db) else { return [] }
        // The answers get the ids the submission's own answers had: downstream drops the copies.
        return OutboundMessage.caused(by: recorded.submissionMessageID, try decide(Message(recorded.submission, metadata: metadata), db))
    }

    private func decide(_ message: Message<RegistrationSubmitted>, _ db: Database) throws -> [OutboundMessage] {
        // Sealed identity documents are opened first; one that does not open is a validation issue.
        let (submission, documentIssues) = sealing.opened(message.payload)
        let placed = try place(submission, message, documentIssues: documentIssues, db)
        // A cancellation that arrived first takes effect once the registration exists.
        guard let pending = try RegistrationStore.pendingCancellation(eventID: submission.eventID, reference: submission.reference, in: db),
            try RegistrationStore.registration(eventID: submission.eventID, reference: submission.reference, in: db) != nil
        else { return placed }
        try RegistrationStore.removePending(eventID: pending.eventID, reference: pending.reference, in: db)
        let request = RegistrationCancelRequested(eventID: pending.eventID, reference: pending.reference, reason: pending.reason)
        return placed + (try cancelExisting(request, requestedAt: pending.receivedAt, correlation: pending.correlationID, db))
    }

    private func place(
        _ submission: RegistrationSubmitted, _ message: Message<RegistrationSubmitted>, documentIssues: [ValidationIssue], _ db: Database
    ) throws -> [OutboundMessage] {
        let correlation = message.answerCorrelationID
        // An old or repeated revision changes nothing and is not judged: its sender is not told
        // that a change failed (a retry after the deadline, a resend under a new message id).
        let existing = try RegistrationStore.registration(eventID: submission.eventID, reference: submission.reference, in: db)
        if let existing, submission.revision <= existing.revision {
            return []  // stale or repeated revision: the newer one stands
        }
        // A revision submitted before the registration was cancelled (an amendment held up in a
        // queue, or replayed by ops afterwards) does not bring it back: the cancellation is the
        // newer wish. A registration made again after a cancellation is submitted after it. The
        // sender hears why (its clock may be behind ours); the lead, who cancelled, is not told.
        if let existing, existing.status == .cancelled, let cancelled = existing.cancelRequestedAt,
            let submitted = submission.submittedAt, submitted < cancelled
        {
            logger.notice(
                "refused: submitted before the registration was cancelled; it stays cancelled",
                metadata: [
                    "message.id": "\(message.messageID)", "registration.id": "\(existing.registrationID)",
                    "revision": "\(submission.revision)",
                ])
            let issue = ValidationIssue(
                path: "submittedAt", code: "registration_cancelled",
                message:
                    "submitted at \(MessageCoding.format(submitted)), before the registration's cancellation was asked "
                    + "(\(MessageCoding.format(cancelled))); it stays cancelled. To register again, submit with a later submittedAt"
            )
            return try reject(submission, issues: [issue], correlation: correlation, db, tellingLead: false)
        }
        let programme = try RegistrationStore.event(submission.eventID, in: db)
        var issues = documentIssues + validator.issues(in: submission, programme: programme, receivedAt: message.receivedAt)
        if programme == nil, !submission.eventID.isEmpty {
            issues.insert(
                ValidationIssue(
                    path: "eventID", code: "unknown_event",
                    message: "no programme is published for event '\(submission.eventID)'; registrations open once it is"), at: 0)
        }
        guard issues.isEmpty, let programme else {
            return try reject(submission, issues: issues, correlation: correlation, db)
        }

        let now = clock()
        var record = RegistrationRecord(
            registrationID: existing?.registrationID
                ?? Messages.registrationID(eventID: submission.eventID, reference: submission.reference),
            eventID: submission.eventID, reference: submission.reference, revision: submission.revision,
            status: existing?.status ?? .waitlisted, delegation: submission.delegation, waitlistSequence: existing?.waitlistSequence,
            correlationID: correlation, submittedAt: submission.submittedAt, createdAt: existing?.createdAt ?? now, updatedAt: now)

        switch existing?.status {
        case .accepted?:
            // The places it holds stay its own, even in an event now over full (a programme with
            // less room): only the delegates an amendment adds need free places.
            let usage = try RegistrationStore.usage(eventID: record.eventID, excluding: record.registrationID, in: db)
            let held = existing?.delegateCount ?? 0
            guard record.delegateCount <= held || usage.delegates + record.delegateCount <= programme.capacity.delegates else {
                let free = programme.capacity.delegates - usage.delegates
                let issue = ValidationIssue(
                    path: "delegates", code: "capacity_exceeded",
                    message:
                        "the amendment needs \(record.delegateCount) places but \(max(0, free)) are free; "
                        + "revision \(existing?.revision ?? 0) still stands"
                )
                return try reject(submission, issues: [issue], correlation: correlation, db)
            }
            try store(record, documents: submission.delegates, db)
            return try accepted(record, documents: submission.delegates, promoted: false, batch: submission.batch, db)
                + (try promote(eventID: record.eventID, capacity: programme.capacity, db))
        case .waitlisted?:
            try store(record, documents: submission.delegates, db)
            let promotions = try promote(eventID: record.eventID, capacity: programme.capacity, db)
            if promotions.contains(where: { (try? $0.decode(RegistrationAccepted.self).registrationID) == record.registrationID }) {
                return promotions
            }
            return try waitlisted(record, db) + promotions
        case .cancelled?, nil:
            let usage = try RegistrationStore.usage(eventID: record.eventID, in: db)
            let nobodyAhead = try RegistrationStore.waitlist(eventID: record.eventID, in: db).allSatisfy {
                !canEverFit($0, capacity: programme.capacity)
            }
            if nobodyAhead, fits(record, usage: usage, capacity: programme.capacity) {
                record.status = .accepted
                record.waitlistSequence = nil
                try store(record, documents: submission.delegates, db)
                return try accepted(record, documents: submission.delegates, promoted: false, batch: submission.batch, db)
            }
            record.status = .waitlisted
            record.waitlistSequence = try RegistrationStore.nextWaitlistSequence(eventID: record.eventID, in: db)
            try store(record, documents: submission.delegates, db)
            return try waitlisted(record, db)
        }
    }

    /// The answer to a submission that is refused. If it amends a registration that stands, the
    /// answer says so (`standing`): the registration is unchanged. Without `tellingLead` it names
    /// no lead contact, so only the sender hears it (notifications e-mails the lead it names).
    private func reject(
        _ submission: RegistrationSubmitted, issues: [ValidationIssue], correlation: String, _ db: Database, tellingLead: Bool = true
    ) throws -> [OutboundMessage] {
        try RegistrationStore.recordRejection(
            eventID: submission.eventID, reference: submission.reference, revision: submission.revision, issues: issues, in: db)
        let contactValid = tellingLead && !issues.contains { $0.path.hasPrefix("leadContact") }
        let existing = try RegistrationStore.registration(eventID: submission.eventID, reference: submission.reference, in: db)
        let standing = existing.flatMap { record -> RegistrationRejected.Standing? in
            switch record.status {
            case .accepted: return .init(revision: record.revision, status: .accepted)
            case .waitlisted: return .init(revision: record.revision, status: .waitlisted)
            case .cancelled: return nil
            }
        }
        return try sealed(
            RegistrationRejected(
                eventID: submission.eventID, reference: submission.reference, revision: submission.revision, issues: issues,
                leadContact: contactValid ? submission.leadContact : nil, rejectedAt: clock(), registrationID: existing?.registrationID,
                standing: standing),
            correlationID: correlation, db)
    }

    // MARK: Submissions that cannot be read

    /// A submission or cancellation whose body does not decode still says, often, which
    /// registration it is about: its sender then hears what is wrong, as for any other refusal.
    public func answers(to message: UnreadableMessage) -> [OutboundMessage] {
        struct Lead: Decodable { var leadContact: Contact? }
        // Each field read on its own, leniently; one given twice is not trusted.
        let fields = (try? JSONSerialization.jsonObject(with: message.body)) as? [String: Any] ?? [:]
        let problem = message.problem
        guard let eventID = fields["eventID"] as? String, let reference = fields["reference"] as? String, !eventID.isEmpty,
            !reference.isEmpty,
            !(problem.code == "duplicate_key" && ["eventID", "reference"].contains(problem.path))
        else { return [] }
        let revision = (fields["revision"] as? NSNumber).flatMap { Int(exactly: $0.doubleValue) }
        let lead =
            problem.path.hasPrefix("leadContact")
            ? nil : (try? MessageCoding.makeDecoder().decode(Lead.self, from: message.body))?.leadContact
        // What an identity document holds never goes into an answer: a value a field does not
        // take is named by its field only.
        let text =
            problem.path.contains("identityDocument") && problem.code == "invalid_value"
            ? "\(problem.path) holds a value this field does not take" : problem.description
        let issue = ValidationIssue(path: problem.path, code: problem.code, message: text)
        let answer = try? sealed(
            RegistrationRejected(
                eventID: eventID, reference: reference, revision: message.type == .registrationSubmitted ? revision : nil, issues: [issue],
                leadContact: message.type == .registrationSubmitted ? lead : nil, rejectedAt: clock(),
                request: message.type == .registrationSubmitted ? nil : message.type),
            correlationID: message.answerCorrelationID, nil)
        return answer ?? []
    }

    // MARK: Cancellations

    func cancel(_ message: Message<RegistrationCancelRequested>, _ db: Database) throws -> [OutboundMessage] {
        let request = message.payload
        let registrationID = Messages.registrationID(eventID: request.eventID, reference: request.reference)
        guard try !ignoredAfterErasure(registrationID, message.metadata, db) else { return [] }
        guard try RegistrationStore.registration(eventID: request.eventID, reference: request.reference, in: db) != nil else {
            // The submission may still be on its way: the request waits for it, and is answered
            // if it never comes.
            try RegistrationStore.savePending(
                .init(
                    eventID: request.eventID, reference: request.reference, messageID: message.messageID,
                    correlationID: message.answerCorrelationID,
                    reason: request.reason, receivedAt: message.receivedAt,
                    expiresAt: message.receivedAt.addingTimeInterval(cancellationWait)),
                in: db)
            return []
        }
        // (the sender's time of the request, but never later than it arrived)
        let requestedAt = min(request.requestedAt ?? message.receivedAt, message.receivedAt)
        return try cancelExisting(request, requestedAt: requestedAt, correlation: message.answerCorrelationID, db)
    }

    /// Answers the cancellation requests that waited `cancellationWait` for a submission that
    /// never came: `registration.rejected` with `unknown_reference`, to the request's sender.
    /// Returns the answers, each with the message id of the request it answers.
    public func expireCancellations(now: Date, in db: Database) throws -> [(cause: String, answer: OutboundMessage)] {
        try RegistrationStore.expiredCancellations(now: now, in: db).map { pending in
            try RegistrationStore.removePending(eventID: pending.eventID, reference: pending.reference, in: db)
            let waited = Int(pending.expiresAt.timeIntervalSince(pending.receivedAt))
            let issue = ValidationIssue(
                path: "reference", code: "unknown_reference",
                message:
                    "no registration '\(pending.reference)' for event '\(pending.eventID)' arrived within \(waited) s of this request; "
                    + "nothing was cancelled"
            )
            let answer = try OutboundMessage(
                RegistrationRejected(
                    eventID: pending.eventID, reference: pending.reference, revision: nil, issues: [issue], rejectedAt: now,
                    request: .registrationCancelRequested),
                correlationID: pending.correlationID)
            return (pending.messageID, answer)
        }
    }

    private func cancelExisting(_ request: RegistrationCancelRequested, requestedAt: Date, correlation: String, _ db: Database) throws
        -> [OutboundMessage]
    {
        guard var record = try RegistrationStore.registration(eventID: request.eventID, reference: request.reference, in: db) else {
            return []
        }
        guard record.status != .cancelled else { return [] }
        record.status = .cancelled
        record.waitlistSequence = nil
        record.cancelRequestedAt = requestedAt
        record.updatedAt = clock()
        try RegistrationStore.save(record, in: db)
        // Identity documents are kept only while they may be needed.
        try RegistrationStore.setIdentity(registrationID: record.registrationID, nil, in: db)
        var messages = try sealed(
            RegistrationCancelled(
                registrationID: record.registrationID, eventID: record.eventID, reference: record.reference, reason: request.reason,
                delegation: record.delegation.withoutIdentityDocuments, cancelledAt: record.updatedAt),
            correlationID: correlation, db)
        // Places freed, or the head of the list gone: whoever now leads the list may move up.
        if let programme = try RegistrationStore.event(record.eventID, in: db) {
            messages += try promote(eventID: record.eventID, capacity: programme.capacity, db)
        }
        return messages
    }

    // MARK: Programme

    func publish(_ programme: ProgrammePublished, _ db: Database) throws -> [OutboundMessage] {
        if let known = try RegistrationStore.event(programme.eventID, in: db), known.version >= programme.version {
            // (A store from before retention or time zones learns what it lacks from the same version.)
            if known.version == programme.version, known.endsAt == nil || known.timeZone == nil {
                try RegistrationStore.save(EventProgramme(programme), in: db)
            }
            return []
        }
        let event = EventProgramme(programme)
        try RegistrationStore.save(event, in: db)
        return try promote(eventID: event.eventID, capacity: event.capacity, db)
    }

    // MARK: Places

    private func fits(_ record: RegistrationRecord, usage: (organisations: Int, delegates: Int), capacity: EventCapacity) -> Bool {
        usage.organisations + 1 <= capacity.organisations && usage.delegates + record.delegateCount <= capacity.delegates
    }

    /// Whether the delegation fits the event were every other place free. One that does not
    /// (larger than the event, REGISTRATIONS_MAX_DELEGATES being above its capacity, or after a
    /// programme with less room) waits for more room without holding back those behind it.
    private func canEverFit(_ record: RegistrationRecord, capacity: EventCapacity) -> Bool {
        fits(record, usage: (organisations: 0, delegates: 0), capacity: capacity)
    }

    /// Moves waiting registrations up, in arrival order, while the head fits; one that could
    /// never fit is passed over and keeps its place in line.
    private func promote(eventID: String, capacity: EventCapacity, _ db: Database) throws -> [OutboundMessage] {
        var usage = try RegistrationStore.usage(eventID: eventID, in: db)
        var messages: [OutboundMessage] = []
        for var candidate in try RegistrationStore.waitlist(eventID: eventID, in: db) where canEverFit(candidate, capacity: capacity) {
            guard fits(candidate, usage: usage, capacity: capacity) else { break }
            candidate.status = .accepted
            candidate.waitlistSequence = nil
            candidate.updatedAt = clock()
            try RegistrationStore.save(candidate, in: db)
            usage.organisations += 1
            usage.delegates += candidate.delegateCount
            messages += try accepted(candidate, documents: try documents(of: candidate, db), promoted: true, db)
        }
        return messages
    }

    // MARK: Erasure

    /// `registration.erase-requested`: the registration keeps its status, organisation and
    /// numbers (what accounting needs) but no person's name, address, phone or document; a
    /// cancellation waiting for it, the outbox's copies of its messages and its data key go (so
    /// that the archive's copies never open again).
    func erase(_ message: Message<RegistrationEraseRequested>, _ db: Database) throws -> [OutboundMessage] {
        let request = message.payload
        var found = false
        if case .key = try keys.state(request.registrationID) {
            found = true
            try keys.forget(request.registrationID, eventID: request.eventID, now: clock())
        }
        if var record = try RegistrationStore.registration(eventID: request.eventID, reference: request.reference, in: db) {
            found = true
            record.delegation = record.delegation.anonymised
            try RegistrationStore.save(record, in: db)
            try RegistrationStore.setIdentity(registrationID: record.registrationID, nil, in: db)
        }
        if try RegistrationStore.pendingCancellation(eventID: request.eventID, reference: request.reference, in: db) != nil {
            found = true
            try RegistrationStore.removePending(eventID: request.eventID, reference: request.reference, in: db)
        }
        try Outbox.erase(registrationID: request.registrationID, eventID: request.eventID, reference: request.reference, in: db)
        if found {
            try RegistrationStore.save(
                ErasureRecord(
                    registrationID: request.registrationID, eventID: request.eventID, reason: request.reason,
                    requestedAt: request.requestedAt, erasedAt: clock()), in: db)
        }
        return [
            try OutboundMessage(
                RegistrationErased(
                    eventID: request.eventID, registrationID: request.registrationID, reference: request.reference,
                    service: "registrations", found: found, erasedAt: clock()),
                correlationID: message.answerCorrelationID)
        ]
    }

    /// A submission or cancellation for a registration erased here is ignored: nothing of it is
    /// stored or answered (its data key is gone), and the log says so without its data.
    private func ignoredAfterErasure(_ registrationID: String, _ metadata: MessageMetadata, _ db: Database) throws -> Bool {
        guard try RegistrationStore.erasure(registrationID, in: db)?.erasedAt != nil else { return false }
        logger.notice(
            "ignored: the registration was erased",
            metadata: [
                "message.id": "\(metadata.messageID)", "message.type": "\(metadata.type.rawValue)", "registration.id": "\(registrationID)",
            ])
        return true
    }

    /// The retention schedule: for each registration of an event over for `retention` seconds
    /// (placed, or only ever refused: a refused submission has a data key too), not asked to be
    /// erased yet, a `registration.erase-requested` (reason `retention`) to every service, itself
    /// included. Each is asked once.
    public func requestDueErasures(now: Date, retention: Double, in db: Database) throws -> [OutboundMessage] {
        try RegistrationStore.dueForErasure(now: now, retention: retention, in: db).map { record in
            try RegistrationStore.save(
                ErasureRecord(registrationID: record.registrationID, eventID: record.eventID, reason: .retention, requestedAt: now), in: db)
            return try OutboundMessage(
                RegistrationEraseRequested(
                    eventID: record.eventID, reference: record.reference, requestedBy: "retention", reason: .retention, requestedAt: now),
                correlationID: record.registrationID)
        }
    }

    // MARK: Data keys

    /// `registration.data-keys-requested`: every registration's key again (of the event, if
    /// named), for a consumer whose store is being rebuilt; erased ones as erased.
    func sendKeys(_ message: Message<RegistrationDataKeysRequested>, _ db: Database) throws -> [OutboundMessage] {
        try keys.all(eventID: message.payload.eventID).map { entry in
            try OutboundMessage(
                RegistrationDataKey(
                    eventID: entry.eventID, registrationID: entry.registrationID, key: entry.key?.base64, issuedAt: clock()),
                correlationID: message.answerCorrelationID)
        }
    }

    /// `payload` with its personal fields sealed under its registration's key, after the
    /// `registration.data-key` that gives the key to the consumers the first time this store
    /// commits one (`db`; without it, every time: the announcement's id and body are the same
    /// each time, so consumers drop the repeats). A registration erased already has no key: its
    /// fields go as erased.
    private func sealed<Payload: CarriesPersonalData>(
        _ payload: Payload, correlationID: String?, origin: OutboundMessage.Origin? = nil, _ db: Database?
    ) throws -> [OutboundMessage] {
        func message(_ payload: Payload) throws -> OutboundMessage {
            var message = try OutboundMessage(payload, correlationID: correlationID)
            message.origin = origin
            return message
        }
        guard let id = payload.dataKeyID, let eventID = payload.partitionKeys.event else { return [try message(payload)] }
        let (key, madeAt) = try keys.key(for: id, eventID: eventID, now: clock())
        guard let key else {
            var erased = payload
            erased.personalData = payload.personalData.replaced(name: Erasure.name, email: Erasure.email)
            return [try message(erased)]
        }
        guard try db.map({ try RegistrationStore.announceKey(id, in: $0) }) ?? true else {
            return [try message(try payload.sealed(with: key))]
        }
        // Its id and body are the registration's: a repeat (a replay) is dropped as a duplicate.
        var announcement = try OutboundMessage(
            RegistrationDataKey(eventID: eventID, registrationID: id, key: key.base64, issuedAt: madeAt), correlationID: nil)
        announcement.origin = .init(cause: "data-key|\(id)", index: 0)
        return [announcement, try message(try payload.sealed(with: key))]
    }

    // MARK: Identity documents and messages

    private func store(_ record: RegistrationRecord, documents delegates: [Delegate], _ db: Database) throws {
        try RegistrationStore.save(record, in: db)
        let documents = delegates.map(\.identityDocument)
        let sealed = documents.contains { $0 != nil } ? try vault.seal(documents, registrationID: record.registrationID) : nil
        try RegistrationStore.setIdentity(registrationID: record.registrationID, sealed, in: db)
    }

    private func documents(of record: RegistrationRecord, _ db: Database) throws -> [Delegate] {
        var delegates = record.delegation.delegates
        guard let sealed = try RegistrationStore.identity(registrationID: record.registrationID, in: db) else { return delegates }
        let documents: [IdentityDocument?]
        do {
            documents = try vault.open(sealed.ciphertext, keyID: sealed.keyID, registrationID: record.registrationID)
        } catch {
            throw HandlerFailure.transient("cannot open the identity documents of \(record.registrationID): \(error)")
        }
        for index in delegates.indices where index < documents.count {
            delegates[index].identityDocument = documents[index]
        }
        return delegates
    }

    /// `registration.accepted`, with `batch` (the submission's place in its batch, if it has a
    /// valid one) when it answers the submission.
    private func accepted(
        _ record: RegistrationRecord, documents delegates: [Delegate], promoted: Bool, batch: BatchPosition? = nil, _ db: Database
    ) throws -> [OutboundMessage] {
        var delegation = record.delegation
        delegation.delegates = try sealing.forReaders(delegates, reference: record.reference)
        return try sealed(
            RegistrationAccepted(
                registrationID: record.registrationID, eventID: record.eventID, reference: record.reference, revision: record.revision,
                delegation: delegation, promoted: promoted, acceptedAt: record.updatedAt, submittedAt: record.submittedAt,
                batch: batch?.isValid == true ? batch : nil),
            correlationID: record.correlationID, db)
    }

    private func waitlisted(_ record: RegistrationRecord, _ db: Database) throws -> [OutboundMessage] {
        try sealed(
            RegistrationWaitlisted(
                registrationID: record.registrationID, eventID: record.eventID, reference: record.reference, revision: record.revision,
                position: try RegistrationStore.waitlistPosition(of: record, in: db),
                delegation: record.delegation.withoutIdentityDocuments,
                waitlistedAt: record.updatedAt),
            correlationID: record.correlationID, db)
    }
}

extension RegistrationsHandler: OpensPersonalData {
    /// Its own keys, from the key file (a replayed `registration.recorded` opens with them). A key
    /// it never made will not come later: the message is parked, to retry once the key file is
    /// back.
    public func dataKey(_ registrationID: String, in db: Database) throws -> DataKeyState {
        let state = try keys.state(registrationID)
        guard state != .unknown else {
            throw HandlerFailure.permanent(
                "registration \(registrationID) has no data key in the key file (REGISTRATIONS_KEY_STORE_PATH): "
                    + "restore the file and retry the message")
        }
        return state
    }
}
