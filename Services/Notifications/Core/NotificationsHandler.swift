import Crypto
import Foundation
import GRDB
import Messages
import ServiceRuntime

/// Decides who hears what: records contacts, turns each message into notifications (one per
/// recipient, keyed by recipient, kind, subject and version, so that a redelivered or replayed
/// message never queues a second one), merges bursts of itinerary changes into a digest, holds
/// non-urgent ones through quiet hours, and withdraws what is not sent yet (pending, or being
/// sent) for a cancelled registration. Sending is `DeliveryService`'s job.
///
/// - `registration.accepted`, `.waitlisted`, `.rejected`: to the lead contact, unless the last
///   notice said the same (an amendment nobody would notice sends nothing).
/// - `registration.cancelled`: to the lead contact, and to everyone else who received calendar
///   entries, with those entries withdrawn (`METHOD:CANCEL`).
/// - An amendment that removes people: each who received calendar entries gets them withdrawn.
/// - `itinerary.planned`, `.changed`: to the lead contact and every delegate with an address;
///   and to each of them a reminder of every item ahead, `configuration.reminders` minutes
///   before it (withdrawn when the item moves or goes, the moved item reminded at its new time).
/// - `boarding.missed`: to the lead contact at once (through quiet hours), naming who was not on
///   board, with the console's link to answer who will not come; once per alert.
/// - `notification.resend-requested`: a notification sent again, as a copy of its own.
public struct NotificationsHandler: Sendable, OpensPersonalData {
    /// What notifications consumes, and with what.
    public static let router: MessageRouter<NotificationsHandler> = {
        var router = MessageRouter<NotificationsHandler>()
        router.on(ProgrammePublished.self) { _, message, db in
            try NotificationStore.saveEvent(message.payload, in: db)
            return []
        }
        router.on(RegistrationAccepted.self) { try $0.tracing($1).accepted($1.payload, $2) }
        router.on(RegistrationWaitlisted.self) { try $0.tracing($1).waitlisted($1.payload, $2) }
        router.on(RegistrationRejected.self) { try $0.tracing($1).rejected($1.payload, $2) }
        router.on(RegistrationCancelled.self) { try $0.tracing($1).cancelled($1.payload, $2) }
        router.on(ItineraryPlanned.self) { handler, message, db in
            let planned = message.payload
            try handler.tracing(message).itinerary(
                .itineraryPlanned, registrationID: planned.registrationID, eventID: planned.eventID, version: planned.planVersion,
                items: planned.items, changes: [], unmet: planned.unmet, in: db)
            return []
        }
        router.on(ItineraryChanged.self) { handler, message, db in
            let changed = message.payload
            try handler.tracing(message).itinerary(
                .itineraryChanged, registrationID: changed.registrationID, eventID: changed.eventID, version: changed.planVersion,
                items: changed.items, changes: changed.changes, unmet: changed.unmet, in: db)
            return []
        }
        router.on(BoardingMissed.self) { try $0.tracing($1).missing($1.payload, $2) }
        router.on(NotificationResendRequested.self) { try $0.tracing($1).resend($1.payload, $2) }
        router.on(RegistrationEraseRequested.self) { try $0.erase($1, $2) }
        router.keepsDataKeys()
        router.emits(RegistrationErased.self)
        router.emits(NotificationDelivered.self, NotificationFailed.self)  // by the delivery workers
        return router
    }()

    private let configuration: NotificationsConfiguration
    private let clock: @Sendable () -> Date
    /// The trace of the message being handled: the notifications it queues are sent in it.
    private var trace: TraceContext?

    public init(configuration: NotificationsConfiguration, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.configuration = configuration
        self.clock = clock
    }

    /// The routes bound to this handler.
    public var dispatcher: Dispatcher { Self.router.dispatcher(for: self) }

    /// This handler, queueing in `message`'s trace.
    private func tracing<Payload>(_ message: Message<Payload>) -> NotificationsHandler {
        var handler = self
        handler.trace = message.metadata.trace
        return handler
    }

    func accepted(_ accepted: RegistrationAccepted, _ db: Database) throws -> [OutboundMessage] {
        let (contacts, removed) = try remember(
            accepted.registrationID, accepted.eventID, accepted.delegation, revision: accepted.revision, in: db)
        var content = NotificationContent(organisation: contacts.organisation, reference: accepted.reference)
        content.delegates = accepted.delegation.delegates.count
        content.promoted = accepted.promoted
        content.passes = contacts.recipients.first.map(contacts.passes)
        try queueStatus(
            .accepted, subject: "\(accepted.registrationID)|rev\(accepted.revision)\(accepted.promoted ? "|promoted" : "")",
            to: Array(contacts.recipients.prefix(1)), registrationID: accepted.registrationID, eventID: accepted.eventID,
            country: contacts.country,
            content: content, in: db)
        try withdraw(
            from: removed, registrationID: accepted.registrationID, revision: accepted.revision, reference: accepted.reference,
            contacts: contacts, in: db)
        return []
    }

    func waitlisted(_ waitlisted: RegistrationWaitlisted, _ db: Database) throws -> [OutboundMessage] {
        let (contacts, removed) = try remember(
            waitlisted.registrationID, waitlisted.eventID, waitlisted.delegation, revision: waitlisted.revision, in: db)
        var content = NotificationContent(organisation: contacts.organisation, reference: waitlisted.reference)
        content.delegates = waitlisted.delegation.delegates.count
        content.position = waitlisted.position
        try queueStatus(
            .waitlisted, subject: "\(waitlisted.registrationID)|rev\(waitlisted.revision)", to: Array(contacts.recipients.prefix(1)),
            registrationID: waitlisted.registrationID, eventID: waitlisted.eventID, country: contacts.country, content: content, in: db)
        try withdraw(
            from: removed, registrationID: waitlisted.registrationID, revision: waitlisted.revision, reference: waitlisted.reference,
            contacts: contacts, in: db)
        return []
    }

    func rejected(_ rejected: RegistrationRejected, _ db: Database) throws -> [OutboundMessage] {
        // Nobody valid (or nobody left) to tell; the sender has the message.
        guard let lead = rejected.leadContact, !isPlaceholderAddress(lead.email) else { return [] }
        var content = NotificationContent(organisation: "", reference: rejected.reference)
        content.issues = rejected.issues
        content.standing = rejected.standing
        try queue(
            .rejected, subject: "\(rejected.eventID ?? "-")|\(rejected.reference ?? "-")|rev\(rejected.revision ?? 0)",
            to: [Recipient(name: lead.name, email: lead.email, language: lead.language)], registrationID: rejected.registrationID,
            eventID: rejected.eventID, country: nil, content: content, in: db)
        return []
    }

    /// `boarding.missed`: the lead hears at once, in their language, who of the delegation was
    /// not on board when the bus left; the alert's id makes it one notification however often
    /// the message comes.
    func missing(_ alert: BoardingMissed, _ db: Database) throws -> [OutboundMessage] {
        guard let contacts = try NotificationStore.contacts(alert.registrationID, in: db) else {
            throw HandlerFailure.transient("no contacts for registration \(alert.registrationID) yet")
        }
        guard !contacts.cancelled, let lead = contacts.recipients.first else { return [] }
        var content = NotificationContent(organisation: contacts.organisation)
        content.missing = MissingAtDeparture(
            busID: alert.busID, departure: alert.departure, venueID: alert.venueID,
            people: alert.persons.map { person in (person > 0 ? contacts.people?.dropFirst(person - 1).first : nil) ?? "#\(person)" },
            answerURL: alert.answerURL)
        try queue(
            .missingAtDeparture, subject: alert.alertID, to: [lead], registrationID: alert.registrationID, eventID: alert.eventID,
            country: contacts.country, content: content, urgent: true, in: db)
        return []
    }

    /// `notification.resend-requested` (the organisers, from the console): a copy of the
    /// notification (same content, recipient and channels), due at once, with an id and key of
    /// its own so that it is sent although the original was; the same request again queues
    /// nothing more. Nothing for a notification this service does not have, or whose recipient
    /// was erased. A request id that cannot name the copy safely (`isSafeRequestID`) is refused:
    /// the message is parked with the reason.
    func resend(_ request: NotificationResendRequested, _ db: Database) throws -> [OutboundMessage] {
        guard Self.isSafeRequestID(request.requestID) else {
            // (not quoted: it may hold anything, line breaks included)
            throw HandlerFailure.permanent(
                "requestID must be 1 to 64 letters, digits, '.', '_' or '-': it names the copy, in its Message-ID and headers")
        }
        guard var copy = try NotificationStore.notification(request.notificationID, in: db),
            !isPlaceholderAddress(copy.recipient.email), copy.recipient.name != Erasure.name
        else { return [] }
        copy.id = request.copyID
        copy.idempotencyKey = Self.idempotencyKey("resend|\(request.requestID)|\(copy.idempotencyKey)")
        copy.channelIndex = 0
        copy.attempts = 0
        copy.totalAttempts = 0
        copy.status = .pending
        copy.dueAt = clock()
        copy.createdAt = clock()
        copy.lastError = nil
        copy.sentChannel = nil
        copy.trace = trace
        _ = try NotificationStore.insert(copy, in: db)
        return []
    }

    /// Whether a resend's request id may name its copy (`NotificationResendRequested.copyID`, the
    /// e-mail's `Message-ID` and `X-Delegation-Notification`): ASCII letters, digits, `.`, `_`
    /// and `-` (the console's ids are `console-` and base64url), 1 to 64 of them.
    static func isSafeRequestID(_ id: String) -> Bool {
        id.wholeMatch(of: /[A-Za-z0-9._\-]{1,64}/) != nil
    }

    /// `registration.erase-requested`: the registration's recipients (names, addresses) go (it
    /// stays known, with nobody to write to); its
    /// notifications keep their kind, status and attempts (what was sent when, for accounting)
    /// but no recipient, content, error text or key that names an address; any not sent yet is
    /// cancelled, never sent to an erased address.
    func erase(_ message: Message<RegistrationEraseRequested>, _ db: Database) throws -> [OutboundMessage] {
        let request = message.payload
        let registrationID = request.registrationID
        try DataKeys.forget(registrationID: registrationID, eventID: request.eventID, in: db)
        // The registration stays known, with nobody to write to: a later plan or change for it
        // (it may still ride a bus) tells no one instead of waiting for contacts.
        var found = false
        if var contacts = try NotificationStore.contacts(registrationID, in: db) {
            found = true
            // (an address's choice to stop reminders is about that person too; it stays while
            // another registration still held lists the address: it is that one's choice as well)
            for recipient in contacts.recipients {
                guard try !NotificationStore.isHeldByAnotherRegistration(recipient.email, than: registrationID, in: db) else { continue }
                try NotificationStore.setOptedOut(OptOutLinks.digest(recipient.email), false, now: clock(), in: db)
            }
            contacts.recipients = []
            contacts.people = []
            try NotificationStore.saveContacts(contacts, in: db)
        }
        for var record in try NotificationStore.notifications(registrationID: registrationID, in: db) {
            found = true
            if record.status == .pending || record.status == .sending { record.status = .cancelled }
            record.recipient = Recipient(name: Erasure.name, email: Erasure.email, language: record.recipient.language)
            record.content = NotificationContent(organisation: record.content.organisation)
            record.idempotencyKey = "erased:" + SHA256.hash(data: Data(record.idempotencyKey.utf8)).hexString
            record.lastError = nil
            try NotificationStore.update(record, in: db)
            try NotificationStore.eraseAttemptDetails(record.id, in: db)
        }
        try Outbox.erase(registrationID: registrationID, eventID: request.eventID, reference: request.reference, in: db)
        return [
            try OutboundMessage(
                RegistrationErased(
                    eventID: request.eventID, registrationID: registrationID, reference: request.reference, service: "notifications",
                    found: found, erasedAt: clock()),
                correlationID: message.answerCorrelationID)
        ]
    }

    func cancelled(_ cancelled: RegistrationCancelled, _ db: Database) throws -> [OutboundMessage] {
        var (contacts, _) = try remember(cancelled.registrationID, cancelled.eventID, cancelled.delegation, revision: .max, in: db)
        contacts.cancelled = true
        try NotificationStore.saveContacts(contacts, in: db)
        // (what each holds, before the itineraries being sent are withdrawn: they may arrive)
        let held = try contacts.recipients.map { recipient in
            try NotificationStore.heldEntries(registrationID: cancelled.registrationID, email: recipient.email, in: db)
        }
        _ = try NotificationStore.cancelUnsent(registrationID: cancelled.registrationID, except: [.cancelled], in: db)
        var content = NotificationContent(organisation: contacts.organisation, reference: cancelled.reference)
        content.delegates = cancelled.delegation.delegates.count
        content.reason = cancelled.reason
        // The lead contact hears in any case; everyone else who holds calendar entries gets
        // them withdrawn.
        for (index, recipient) in contacts.recipients.enumerated() {
            content.withdrawn = held[index]
            guard index == 0 || content.withdrawn?.isEmpty == false else { continue }
            try queue(
                .cancelled, subject: cancelled.registrationID, to: [recipient], registrationID: cancelled.registrationID,
                eventID: cancelled.eventID,
                country: contacts.country, content: content, in: db)
        }
        return []
    }

    // MARK: Recipients

    /// Stores who to write to about a registration (lead contact first, then delegates with an
    /// address, each once). Returns them, and those an amendment removed.
    private func remember(
        _ registrationID: String, _ eventID: String, _ delegation: Delegation, revision: Int, in db: Database
    ) throws -> (contacts: ContactsRecord, removed: [Recipient]) {
        let previous = try NotificationStore.contacts(registrationID, in: db)
        if let previous, previous.revision > revision, revision != .max { return (previous, []) }
        let lead = delegation.leadContact
        let leadIndex = delegation.delegates.firstIndex { $0.email?.lowercased() == lead.email.lowercased() }
        let leadDelegate = leadIndex.map { delegation.delegates[$0] }
        var recipients = [
            Recipient(
                name: lead.name, email: lead.email, language: lead.language, person: leadIndex.map { $0 + 1 },
                phone: lead.phone ?? leadDelegate?.phone, wechatOpenID: lead.wechatOpenID ?? leadDelegate?.wechatOpenID,
                channels: lead.channels ?? leadDelegate?.channels)
        ]
        for (index, delegate) in delegation.delegates.enumerated() {
            guard let email = delegate.email, !recipients.contains(where: { $0.email.lowercased() == email.lowercased() }) else { continue }
            recipients.append(
                Recipient(
                    name: delegate.name, email: email, language: delegate.language, person: index + 1, phone: delegate.phone,
                    wechatOpenID: delegate.wechatOpenID, channels: delegate.channels))
        }
        // An erased registration's people are nobody to write to.
        recipients.removeAll { isPlaceholderAddress($0.email) }
        let contacts = ContactsRecord(
            registrationID: registrationID, eventID: eventID, organisation: delegation.organisation.name,
            country: delegation.organisation.country, recipients: recipients,
            revision: revision == .max ? (previous?.revision ?? 0) : revision, cancelled: previous?.cancelled ?? false,
            people: recipients.isEmpty ? [] : delegation.delegates.map(\.name))
        try NotificationStore.saveContacts(contacts, in: db)
        let current = Set(recipients.map { $0.email.lowercased() })
        let removed = (previous?.recipients ?? []).filter { !current.contains($0.email.lowercased()) }
        return (contacts, removed)
    }

    /// People an amendment removed from the delegation: what was still to be sent to them is
    /// withdrawn, and whoever holds calendar entries gets them cancelled.
    private func withdraw(
        from removed: [Recipient], registrationID: String, revision: Int, reference: String, contacts: ContactsRecord, in db: Database
    ) throws {
        for recipient in removed {
            // (what they hold, before the itineraries being sent are withdrawn: they may arrive)
            let held = try NotificationStore.heldEntries(registrationID: registrationID, email: recipient.email, in: db)
            _ = try NotificationStore.cancelUnsent(
                registrationID: registrationID, email: recipient.email, except: [],
                because: "no longer in the delegation (revision \(revision))", in: db)
            guard !held.isEmpty else { continue }
            var content = NotificationContent(organisation: contacts.organisation, reference: reference)
            content.withdrawn = held
            content.removedFromDelegation = true
            try queue(
                .cancelled, subject: "\(registrationID)|removed|rev\(revision)", to: [recipient], registrationID: registrationID,
                eventID: contacts.eventID, country: contacts.country, content: content, in: db)
        }
    }

    private func itinerary(
        _ kind: NotificationKind, registrationID: String, eventID: String, version: Int, items: [ItineraryItem], changes: [ItineraryChange],
        unmet: [UnmetPreference], in db: Database
    ) throws {
        guard let contacts = try NotificationStore.contacts(registrationID, in: db) else {
            // The acceptance with the contacts may still be on its way.
            throw HandlerFailure.transient("no contacts for registration \(registrationID) yet")
        }
        guard !contacts.cancelled else { return }  // the cancellation notice says it all
        var content = NotificationContent(organisation: contacts.organisation)
        content.items = items
        content.changes = changes
        content.unmet = unmet
        content.planVersion = version
        let now = clock()
        let soon = now.addingTimeInterval(24 * 3600)
        let touched = kind == .itineraryPlanned ? items : changes.flatMap { [$0.before, $0.after].compactMap { $0 } }
        let urgent = touched.contains { $0.start >= now && $0.start <= soon }
        for recipient in contacts.recipients {
            let digests =
                kind == .itineraryChanged
                ? try NotificationStore.pendingDigests(registrationID: registrationID, email: recipient.email, in: db) : []
            for var digest in digests {
                // A burst of changes becomes one digest (sent when the first one's window ends).
                let copy = digest.id.hasSuffix(Self.copySuffix)
                digest.kind = .digest
                digest.content.changes = Self.merge(digest.content.changes, changes)
                digest.content.items = items
                digest.content.unmet = unmet
                digest.content.planVersion = version
                digest.urgent = digest.urgent || urgent
                if urgent { digest.dueAt = min(digest.dueAt, now) }
                digest.idempotencyKey = Self.idempotencyKey(
                    Self.identity(.digest, subject: "\(registrationID)|v\(version)", email: recipient.email) + (copy ? Self.copySuffix : "")
                )
                try NotificationStore.update(digest, in: db)
            }
            if !digests.isEmpty { continue }
            var theirs = content
            theirs.passes = contacts.passes(for: recipient)
            try queue(
                kind, subject: "\(registrationID)|v\(version)", to: [recipient], registrationID: registrationID, eventID: eventID,
                country: contacts.country, content: theirs, urgent: urgent, in: db)
        }
        try scheduleReminders(registrationID: registrationID, eventID: eventID, items: items, contacts: contacts, in: db)
    }

    // MARK: Reminders

    /// A reminder of every session, visit and meeting still ahead, `configuration.reminders`
    /// minutes before it, to
    /// each recipient: one per recipient, item (at its time) and offset, however often the plan
    /// is announced again. One whose time has passed is not queued (a plan that arrives late
    /// sends no stale reminder); one pending (or being sent) for an item that moved or went is
    /// withdrawn, and one withdrawn earlier comes back if its item does. Reminders an hour or
    /// less ahead are sent through quiet hours; longer ones wait for their end, or go before they
    /// begin when the end is too close to the item.
    private func scheduleReminders(
        registrationID: String, eventID: String, items: [ItineraryItem], contacts: ContactsRecord, in db: Database
    ) throws {
        guard !configuration.reminders.isEmpty else { return }
        let now = clock()
        let eventZone = try self.eventZone(eventID, in: db)
        let zone = configuration.countryZones[contacts.country] ?? eventZone
        let known = Dictionary(
            try NotificationStore.notifications(.reminder, registrationID: registrationID, in: db).map { ($0.id, $0) },
            uniquingKeysWith: { first, _ in first })
        var wanted: Set<String> = []
        for recipient in contacts.recipients {
            for item in items where item.start > now && item.kind != .travel {
                for minutes in configuration.reminders {
                    let identity = Self.identity(
                        .reminder, subject: "\(registrationID)|\(item.uid)|\(Int(item.start.timeIntervalSince1970))|\(minutes)",
                        email: recipient.email)
                    let id = Self.notificationID(identity)
                    wanted.insert(id)
                    let at = item.start.addingTimeInterval(-Double(minutes) * 60)
                    guard at > now.addingTimeInterval(-60) else { continue }  // its time has passed
                    let urgent = minutes <= 60
                    let due = urgent ? at : reminderTime(at, before: item.start, zone: zone)
                    if var earlier = known[id] {
                        guard earlier.status == .cancelled else { continue }
                        earlier.status = .pending
                        earlier.dueAt = due
                        earlier.attempts = 0
                        earlier.channelIndex = 0
                        earlier.lastError = nil
                        try NotificationStore.update(earlier, in: db)
                        continue
                    }
                    var content = NotificationContent(organisation: contacts.organisation)
                    content.items = [item]
                    content.reminderMinutes = minutes
                    content.meetingPoint = Self.meetingPoint(of: item, among: items, zone: eventZone)
                    try NotificationStore.insert(
                        record(
                            .reminder, identity: identity, to: recipient, registrationID: registrationID, eventID: eventID, zone: zone,
                            urgent: urgent, content: content, due: due, now: now), in: db)
                }
            }
        }
        // (one being sent is withdrawn too: a failed outcome, when it comes, leaves it cancelled)
        for var record in known.values where [.pending, .sending].contains(record.status) && !wanted.contains(record.id) {
            record.status = .cancelled
            record.lastError = "the item moved, went, or started"
            try NotificationStore.update(record, in: db)
        }
    }

    /// Where a bus visit's delegation boards: the place of its item just before, that day.
    static func meetingPoint(of item: ItineraryItem, among items: [ItineraryItem], zone: String) -> String? {
        guard item.kind == .visit, item.busID != nil else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: zone) ?? .gmt
        let before = items.filter { $0.kind != .travel && $0.end <= item.start && calendar.isDate($0.end, inSameDayAs: item.start) }
            .max { $0.end < $1.end }
        return before.flatMap { $0.address ?? $0.title.text(in: .english) }
    }

    /// When a reminder meant for `at` goes, given quiet hours in `zone`: then, outside them; at
    /// their end, if that is still an hour before the item's `start`; else when they began.
    func reminderTime(_ at: Date, before start: Date, zone: String) -> Date {
        let after = afterQuietHours(at, zone: zone)
        guard after > start.addingTimeInterval(-3600), let (minute, quiet) = quietMinute(at, zone: zone) else { return after }
        let elapsed = (minute - quiet.start + 24 * 60) % (24 * 60)
        return at.addingTimeInterval(-Double(elapsed * 60) - secondsIntoMinute(at, zone: zone))
    }

    /// Changes to the same item collapse: the first `before`, the last `after`; added and then
    /// removed is no change at all.
    static func merge(_ earlier: [ItineraryChange], _ later: [ItineraryChange]) -> [ItineraryChange] {
        var byID = Dictionary(earlier.map { ($0.uid, $0) }, uniquingKeysWith: { first, _ in first })
        var order = earlier.map(\.uid)
        for change in later {
            guard let first = byID[change.uid] else {
                byID[change.uid] = change
                order.append(change.uid)
                continue
            }
            switch (first.before, change.after) {
            case (nil, nil):
                byID[change.uid] = nil
            case (nil, let after?):
                byID[change.uid] = ItineraryChange(uid: change.uid, kind: .added, before: nil, after: after)
            case (let before?, nil):
                byID[change.uid] = ItineraryChange(uid: change.uid, kind: .removed, before: before, after: nil)
            case (let before?, let after?):
                let moved = before.start != after.start || before.end != after.end
                byID[change.uid] = ItineraryChange(uid: change.uid, kind: moved ? .moved : .updated, before: before, after: after)
            }
        }
        return order.compactMap { byID[$0] }.reduce(into: []) { result, change in
            if !result.contains(where: { $0.uid == change.uid }) { result.append(change) }
        }
    }

    // MARK: Queueing

    /// What tells notifications apart: kind, subject (registration, revision or plan version)
    /// and address. It is never stored or sent as it is (it holds the address).
    static func identity(_ kind: NotificationKind, subject: String, email: String) -> String {
        "\(kind.rawValue)|\(subject)|\(email.lowercased())"
    }

    /// The notification's id, from its identity: a redelivered or replayed message queues the same.
    static func notificationID(_ identity: String) -> String {
        "ntf-" + SHA256.hash(data: Data(identity.utf8)).prefix(12).hexString
    }

    /// The key receivers drop copies by (webhook header, `notification.delivered`): a digest of
    /// the identity, so that no address travels with it.
    static func idempotencyKey(_ identity: String) -> String {
        "key-" + SHA256.hash(data: Data(identity.utf8)).hexString
    }

    /// A notice of the registration's status, unless the recipient's last one says the same:
    /// an amendment that changes nothing they see sends nothing.
    private func queueStatus(
        _ kind: NotificationKind, subject: String, to recipients: [Recipient], registrationID: String, eventID: String, country: String?,
        content: NotificationContent, in db: Database
    ) throws {
        for recipient in recipients {
            if let last = try NotificationStore.lastStatusNotice(registrationID: registrationID, email: recipient.email, in: db),
                last.kind == kind, last.content == content, last.recipient.name == recipient.name,
                last.recipient.language == recipient.language
            {
                continue
            }
            try queue(
                kind, subject: subject, to: [recipient], registrationID: registrationID, eventID: eventID, country: country,
                content: content, in: db)
        }
    }

    private func queue(
        _ kind: NotificationKind, subject: String, to recipients: [Recipient], registrationID: String?, eventID: String?, country: String?,
        content: NotificationContent, urgent: Bool = false, in db: Database
    ) throws {
        let eventZone = try self.eventZone(eventID, in: db)
        let zone = country.flatMap { configuration.countryZones[$0] } ?? eventZone
        let now = clock()
        for recipient in recipients {
            let identity = Self.identity(kind, subject: subject, email: recipient.email)
            var due = kind == .itineraryChanged && !urgent ? now.addingTimeInterval(configuration.digestWindow) : now
            if !urgent { due = afterQuietHours(due, zone: zone) }
            var notification = record(
                kind, identity: identity, to: recipient, registrationID: registrationID, eventID: eventID, zone: zone, urgent: urgent,
                content: content, due: due, now: now)
            if Self.copiedByEmail(kind, channels: notification.channels),
                configuration.channels[.email]?.reaches(recipient, kind: kind) == true
            {
                var copy = notification
                copy.id += Self.copySuffix
                copy.idempotencyKey = Self.idempotencyKey(identity + Self.copySuffix)
                copy.channels = [.email]
                try NotificationStore.insert(copy, in: db)
                // The copy is the e-mail: the notice itself does not fall back to a second one.
                notification.channels.removeAll { $0 == .email }
            }
            try NotificationStore.insert(notification, in: db)
        }
    }

    /// What a notification's copy by e-mail adds to the original's id (and identity).
    static let copySuffix = "~email"

    /// Whether a notification of `kind` queued for `channels` also goes by e-mail, as a copy of
    /// its own: kinds whose e-mail carries what a short message cannot (the calendar files, the
    /// passes, the itinerary in full, what to correct), when the first channel is another.
    static func copiedByEmail(_ kind: NotificationKind, channels: [ChannelName]) -> Bool {
        guard let first = channels.first, first != .email else { return false }
        return [.accepted, .rejected, .cancelled, .itineraryPlanned, .itineraryChanged, .digest].contains(kind)
    }

    /// A new pending notification, its id and key from its `identity`.
    private func record(
        _ kind: NotificationKind, identity: String, to recipient: Recipient, registrationID: String?, eventID: String?, zone: String,
        urgent: Bool, content: NotificationContent, due: Date, now: Date
    ) -> NotificationRecord {
        NotificationRecord(
            id: Self.notificationID(identity), idempotencyKey: Self.idempotencyKey(identity), registrationID: registrationID,
            eventID: eventID, kind: kind, recipient: recipient, timeZone: zone, urgent: urgent, content: content,
            channels: configuration.channels.channels(for: recipient, kind: kind), channelIndex: 0, attempts: 0, totalAttempts: 0,
            status: .pending,
            dueAt: due, createdAt: now, trace: trace)
    }

    private func eventZone(_ eventID: String?, in db: Database) throws -> String {
        try eventID.flatMap { try NotificationStore.eventZone($0, in: db) } ?? "Asia/Ho_Chi_Minh"
    }

    /// `date`, or the end of the quiet hours it falls in (in the recipient's zone).
    func afterQuietHours(_ date: Date, zone: String) -> Date {
        guard let (minute, quiet) = quietMinute(date, zone: zone) else { return date }
        let wait = (quiet.end - minute + 24 * 60) % (24 * 60)
        return date.addingTimeInterval(Double(wait * 60) - secondsIntoMinute(date, zone: zone))
    }

    /// The minute of the day `date` is in `zone`, and the quiet hours, if it falls inside them.
    private func quietMinute(_ date: Date, zone: String) -> (Int, (start: Int, end: Int))? {
        guard let quiet = configuration.quietHours, let timeZone = TimeZone(identifier: zone) else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let parts = calendar.dateComponents([.hour, .minute], from: date)
        let minute = (parts.hour ?? 0) * 60 + (parts.minute ?? 0)
        let inside = quiet.start < quiet.end ? (minute >= quiet.start && minute < quiet.end) : (minute >= quiet.start || minute < quiet.end)
        return inside ? (minute, quiet) : nil
    }

    private func secondsIntoMinute(_ date: Date, zone: String) -> Double {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: zone) ?? .gmt
        return Double(calendar.component(.second, from: date)) + date.timeIntervalSince1970.truncatingRemainder(dividingBy: 1)
    }
}
