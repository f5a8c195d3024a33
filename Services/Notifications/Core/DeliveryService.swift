import Foundation
import GRDB
import Logging
import Messages
import ServiceLifecycle
import ServiceRuntime
import Synchronization
import Tracing

/// Sends due notifications, one worker per channel (a channel that is down does not hold up
/// the other), a few at a time.
///
/// Each send is recorded as an attempt. Success ends in `sent` and `notification.delivered`. A
/// transient failure is retried with exponential backoff and jitter up to `maxAttempts` (so is a
/// provider's refusal of the channel itself, its credentials or sender: the operator hears of that
/// once per channel, not once per message); a permanent one (or the last attempt) moves to the
/// next channel in the recipient's order that runs here, and when there is none ends in `failed`
/// and `notification.failed`. A notification waiting for a channel that does not run here (none
/// of the recipient's could reach them, or the configuration dropped it) moves on or fails the
/// same way on the next turn of any worker, at start-up and whenever one is found. A notification
/// caught mid-send by a crash is sent again on restart (at least once; the e-mail keeps its
/// Message-ID, the webhook its idempotency key, so receivers can drop the copy).
///
/// A notification cancelled or erased while it is claimed is not sent if it has not started (each
/// lane checks the store before sending). If it was, its outcome leaves it as it is (only the
/// attempt is recorded), except that a cancelled one the relay took is recorded sent, as it was.
/// Failure reasons are stored, published and logged without addresses or numbers
/// (`DeliveryError.redacted(for:)`).
///
/// Each attempt is a span (`deliver <kind>`, with `render` and `send <channel>` inside) in the
/// trace of the message that queued the notification; its outcome is published in it.
public final class DeliveryService: Service {
    private let context: ServiceHost.Context
    private let configuration: NotificationsConfiguration
    private let renderer: Renderer
    private let clock: @Sendable () -> Date
    private let events = EventCache()
    private let refusals = ChannelRefusals()

    public init(
        context: ServiceHost.Context, configuration: NotificationsConfiguration, renderer: Renderer,
        clock: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.context = context
        self.configuration = configuration
        self.renderer = renderer
        self.clock = clock
    }

    public func run() async throws {
        let interrupted = try await context.store.database.write { db in try NotificationStore.resetInterrupted(in: db) }
        if interrupted > 0 {
            context.logger.warning("sending again notifications interrupted by a stop", metadata: ["count": "\(interrupted)"])
        }
        await withTaskGroup(of: Void.self) { group in
            for channel in configuration.channels.names {
                group.addTask { await self.work(channel) }
            }
        }
    }

    /// Keeps up to `concurrency` sends in flight on `channel`, each lane taking the next claimed
    /// notification as soon as it is done with one. Each turn of the loop is one transaction:
    /// it records the outcomes of the sends that ended since the last turn, moves on or fails what
    /// waits for no channel that runs here (`reroute`: the first turn does it at start-up), and
    /// claims the next due notifications (marked `sending`, up to twice `concurrency` held at
    /// once) with what sending them needs. So sending never waits for the store's writer (a lane
    /// only reads its row, to see it is still to be sent), and a busy channel commits once per
    /// turn, not twice per notification. Between turns it sleeps until the store changes (the
    /// pipeline queued notifications, a send ended) or the next pending notification on the
    /// channel is due. When the service stops, the lanes finish what they are sending, those
    /// outcomes are recorded, and what was claimed but not started is pending again.
    private func work(_ channel: ChannelName) async {
        let changes = context.changes
        let lanes = Lanes()
        let depth = configuration.concurrency * 2
        var failures = 0
        await withDiscardingTaskGroup { group in
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                let seen = changes.generation
                let outcomes = lanes.takeOutcomes()
                let room = depth - lanes.held
                var wake = Duration.seconds(3600)
                if room > 0 || !outcomes.isEmpty {
                    do {
                        let now = clock()
                        let turn = try await context.store.database.write { db in
                            try self.turn(channel, recording: outcomes, now: now, limit: room, in: db)
                        }
                        let claimed = turn.claimed
                        failures = 0
                        reported(turn.recorded + claimed.compactMap(\.withdrawn))
                        let starting = lanes.enqueue(claimed.filter { $0.withdrawn == nil }, lanes: configuration.concurrency)
                        for _ in 0..<starting {
                            group.addTask {
                                while !Task.isShuttingDownGracefully, let item = lanes.next() {
                                    lanes.ended(await self.send(item))
                                    changes.ring()
                                }
                            }
                        }
                        if (room > 0 && claimed.count == room) || turn.moreStranded { continue }  // more may be due at once
                        if let next = turn.next { wake = .milliseconds(max(1, Int(next.timeIntervalSince(clock()) * 1000))) }
                    } catch {
                        lanes.putBack(outcomes)
                        failures += 1
                        let delay = min(30, 0.2 * Double(1 << min(failures, 8)))
                        context.logger.error(
                            "cannot record deliveries or claim due notifications; retrying",
                            metadata: ["channel": "\(channel.rawValue)", "error": "\(error)", "retry_in_s": "\(delay)"])
                        wake = .seconds(delay)
                    }
                }
                let timeout = min(wake, .seconds(3600))
                _ = await cancelWhenGracefulShutdown { await changes.wait(after: seen, timeout: timeout) }
            }
        }
        await flush(lanes.takeOutcomes(), unsent: lanes.takeQueued().map(\.record.id))
    }

    /// Records the outcomes of the last sends when the service stops, and returns what was
    /// claimed but not sent to pending: a few tries, then they are left `sending` (sent again
    /// after the restart, at least once).
    private func flush(_ outcomes: [Attempted], unsent: [String]) async {
        guard !outcomes.isEmpty || !unsent.isEmpty else { return }
        for failures in 1...4 {
            do {
                let recorded = try await context.store.database.write { db in
                    let recorded = try self.record(outcomes, in: db)
                    try NotificationStore.release(unsent, in: db)
                    return recorded
                }
                reported(recorded)
                return
            } catch {
                context.logger.error("cannot record deliveries; retrying", metadata: ["count": "\(outcomes.count)", "error": "\(error)"])
                if Task.isCancelled { return }
                try? await Task.sleep(for: .seconds(0.2 * Double(1 << failures)))
            }
        }
    }

    /// One round, for tests: a worker's turn on `channel` by `now` (what waits for no channel that
    /// runs here moved on or failed, what is due claimed), the sends, and their outcomes
    /// recorded, as the next turn would. Returns how many were claimed.
    @discardableResult
    func round(_ channel: ChannelName, now: Date, limit: Int) async throws -> Int {
        let turn = try await context.store.database.write { db in try self.turn(channel, recording: [], now: now, limit: limit, in: db) }
        reported(turn.recorded + turn.claimed.compactMap(\.withdrawn))
        var outcomes: [Attempted] = []
        for item in turn.claimed where item.withdrawn == nil { outcomes.append(await send(item)) }
        let recorded = try await context.store.database.write { [outcomes] db in try self.record(outcomes, in: db) }
        reported(recorded)
        return turn.claimed.count
    }

    /// What one turn of a worker did.
    struct Turn: Sendable {
        /// The outcomes it recorded and the notifications it moved on or failed (`reroute`).
        var recorded: [Attempted]
        var claimed: [Claimed]
        /// When the next notification pending on the channel is due.
        var next: Date?
        /// More notifications wait for no channel that runs here than one turn takes.
        var moreStranded: Bool
    }

    /// One turn of a worker on `channel`, in the caller's transaction: records `outcomes`, moves on
    /// or fails what waits for no channel that runs here (`reroute`), and claims up to `limit`
    /// notifications due by `now`.
    func turn(_ channel: ChannelName, recording outcomes: [Attempted], now: Date, limit: Int, in db: Database) throws -> Turn {
        let (stranded, more) = try reroute(now: now, limit: 100, in: db)
        let recorded = try record(outcomes + stranded, in: db)
        let claimed = try claim(channel, now: now, limit: limit, in: db)
        return Turn(recorded: recorded, claimed: claimed, next: try NotificationStore.nextDue(channel: channel, in: db), moreStranded: more)
    }

    /// Notifications that would wait forever: pending for no channel (none of the recipient's
    /// could reach them when they were queued, e.g. `zh-Hans=wechat,sms` for someone with neither
    /// an openid nor a number) or for one that does not run here (the configuration dropped it).
    /// Each moves to the next of its channels that runs here and reaches the recipient, keeping
    /// its due time; with none left it fails at once, with the reason and `notification.failed`.
    /// Up to `limit` at a time (`more`: others wait); the outcomes are for `record`.
    func reroute(now: Date, limit: Int, in db: Database) throws -> (outcomes: [Attempted], more: Bool) {
        let stranded = try NotificationStore.waitingForNoChannel(running: configuration.channels.names, limit: limit + 1, in: db)
        let outcomes = stranded.prefix(limit).map { waiting -> Attempted in
            var record = waiting
            let order = configuration.channels.operatorOrder(for: record.recipient.language)
            // (the channel `notification.failed` names: the one it waited for, else the first the operator's order would try)
            let channel = waiting.channel ?? order.first ?? .email
            let reason =
                waiting.channel.map { "channel \($0) is not set up here" }
                ?? "no channel set up here reaches the recipient (for \(record.recipient.language.rawValue): "
                + order.map(\.rawValue).joined(separator: ", ") + ")"
            var emitted: OutboundMessage?
            if let next = nextChannel(of: record, from: record.channelIndex) {
                record.channelIndex = next
                record.attempts = 0
                record.lastError = "\(reason): moved to \(record.channels[next].rawValue)"
            } else {
                record.status = .failed
                record.lastError = DeliveryError.permanent(reason).description
                emitted = failed(record, channel: channel, failure: .permanent(reason), at: now)
            }
            return Attempted(
                record: record, channel: channel, started: now, finished: now, outcome: nil, emitted: emitted,
                triedIndex: waiting.channelIndex, trace: record.trace, tried: false, expected: .pending)
        }
        return (outcomes, stranded.count > limit)
    }

    /// The first of the notification's channels from `index` on that runs here and reaches its
    /// recipient.
    private func nextChannel(of record: NotificationRecord, from index: Int) -> Int? {
        record.channels.indices.first { position in
            position >= index && configuration.channels.reaches(record.recipient, on: record.channels[position], kind: record.kind)
        }
    }

    /// A claimed notification and what sending it needs, read in the claim's transaction; or,
    /// if its recipient stopped notifications like it, its withdrawal.
    struct Claimed: Sendable {
        var record: NotificationRecord
        var event: EventRecord?
        var withdrawn: Attempted?
    }

    /// Claims up to `limit` notifications due on `channel` (`NotificationStore.claim`) with
    /// their events; one whose recipient opted out is withdrawn unsent (cancelled) in the same
    /// transaction.
    func claim(_ channel: ChannelName, now: Date, limit: Int, in db: Database) throws -> [Claimed] {
        guard limit > 0 else { return [] }
        return try NotificationStore.claim(channel: channel, now: now, limit: limit, in: db).map { record in
            // (the address's digest only for what one may stop)
            if !record.isEssential, try NotificationStore.isOptedOut(OptOutLinks.digest(record.recipient.email), in: db) {
                var withdrawn = record
                withdrawn.status = .cancelled
                withdrawn.lastError = "the recipient stopped non-essential notifications"
                try NotificationStore.recordOutcome(withdrawn, in: db)
                return Claimed(
                    record: record, event: nil,
                    withdrawn: Attempted(
                        record: withdrawn, channel: channel, started: now, finished: now, outcome: nil, emitted: nil,
                        triedIndex: record.channelIndex, tried: false))
            }
            return Claimed(record: record, event: try record.eventID.flatMap { try events.event($0, in: db) })
        }
    }

    /// Sends a claimed notification once on its current channel; returns the outcome to record.
    /// One cancelled or erased since it was claimed (it waited for a lane) is not sent: what
    /// memory holds of it may be an erased address or a stale itinerary.
    func send(_ claimed: Claimed) async -> Attempted {
        let record = claimed.record
        let name = record.channel ?? .email
        let started = clock()
        do {
            guard try await context.store.database.read({ db in try NotificationStore.isSending(record.id, in: db) }) else {
                return Attempted(
                    record: record, channel: name, started: started, finished: started, outcome: nil, emitted: nil,
                    triedIndex: record.channelIndex, tried: false, overtaken: true)
            }
        } catch {
            return attempted(record, channel: name, started: started, outcome: .transient("cannot check it is still to be sent: \(error)"))
        }
        let tracer = context.tracer
        let span = tracer.startSpan("deliver \(record.kind.rawValue)", context: record.trace?.serviceContext(tracer: tracer) ?? .topLevel)
        defer { span.end() }
        span.attributes["delegation.notification.id"] = record.id
        span.attributes["delegation.notification.channel"] = name.rawValue
        span.attributes["delegation.notification.attempt"] = record.totalAttempts
        var outcome: DeliveryError?
        do {
            // A channel no longer set up (the configuration changed since it was queued): the next one.
            guard let channel = configuration.channels[name] else { throw DeliveryError.permanent("channel \(name) is not set up") }
            let event = claimed.event
            let optOutURL =
                record.isEssential ? nil : configuration.optOut?.url(email: record.recipient.email, language: record.recipient.language)
            let rendering = tracer.startSpan("render", context: span.context)
            let rendered: Renderer.Rendered
            do {
                defer { rendering.end() }
                let issuer = configuration.passKeys.flatMap { keys in
                    event?.passesExpire.map { Renderer.PassIssuer(keys: keys, expires: $0) }
                }
                rendered = try renderer.render(
                    record, eventName: event?.name, eventZone: event?.timeZone ?? "Asia/Ho_Chi_Minh", venues: event?.venues ?? [:],
                    now: started,
                    organizer: .init(name: configuration.sender.name ?? configuration.sender.email, email: configuration.sender.email),
                    passes: issuer, parts: channel.parts, optOutURL: optOutURL)
            }
            let sending = tracer.startSpan("send \(name.rawValue)", context: span.context, ofKind: .client)
            defer { sending.end() }
            do {
                try await channel.send(
                    OutgoingNotification(record: record, rendered: rendered, now: clock(), optOutURL: optOutURL),
                    context: ChannelContext(store: context.store, metrics: context.metrics, logger: context.logger))
            } catch {
                sending.setStatus(SpanStatus(code: .error, message: error.isPermanent ? "permanent failure" : "transient failure"))
                throw error
            }
        } catch let error as DeliveryError {
            outcome = error.redacted(for: record.recipient)
        } catch {
            outcome = DeliveryError.permanent("cannot render: \(error)").redacted(for: record.recipient)
        }
        // (the reason stays in the logs, without addresses: a span carries no personal data)
        if outcome != nil { span.setStatus(SpanStatus(code: .error, message: "not delivered on this attempt")) }
        return attempted(record, channel: name, started: started, outcome: outcome, trace: TraceContext(span.context, tracer: tracer))
    }

    /// One attempt's end, to record: the notification as it is now, what the attempt was, and
    /// `notification.delivered` or `.failed` if it is over. Or what became of one without an
    /// attempt (`tried` false): withdrawn because its recipient opted out, moved on or failed
    /// because its channel does not run here, or found cancelled or erased before it was sent.
    struct Attempted: Sendable {
        var record: NotificationRecord
        var channel: ChannelName
        var started: Date
        var finished: Date
        /// nil: sent (or not tried).
        var outcome: DeliveryError?
        var emitted: OutboundMessage?
        /// The channel it was tried on before this attempt (a fallback changes it).
        var triedIndex: Int = 0
        var trace: TraceContext?
        /// Whether it was sent, or tried, on `channel`.
        var tried = true
        /// The status the row must still have for this to be written: `sending` after a claim,
        /// `pending` for a move (`reroute`).
        var expected: NotificationRecord.Status = .sending
        /// The row was cancelled or erased while it was claimed: only the attempt, if one was
        /// made, is recorded, and nothing emitted.
        var overtaken = false
        /// Its attempt row (none without an attempt).
        var attempt: DeliveryAttempt? {
            guard tried else { return nil }
            return DeliveryAttempt(
                notificationID: record.id, attempt: record.totalAttempts, channel: channel, startedAt: started, finishedAt: finished,
                outcome: outcome == nil ? "sent" : (outcome?.isPermanent == true ? "permanent" : "transient"), detail: outcome?.description)
        }

        /// The `outcome` label of `notification_attempts_total`.
        var label: String {
            if !tried && overtaken { return "withdrawn" }
            if !tried && record.status == .cancelled { return "opted-out" }
            if tried && outcome == nil { return "sent" }
            if record.status == .failed { return "failed" }
            return record.channelIndex != triedIndex ? "fallback" : "retrying"
        }
    }

    /// The notification after an attempt: sent, pending again (a retry after a backoff, or the
    /// next channel in the recipient's order), or failed; with the message that says so. The
    /// message goes out in `trace` (the attempt's span), else in the notification's.
    private func attempted(
        _ sending: NotificationRecord, channel: ChannelName, started: Date, outcome: DeliveryError?, trace: TraceContext? = nil
    ) -> Attempted {
        var record = sending
        let now = clock()
        var emitted: OutboundMessage?
        switch outcome {
        case nil:
            record.status = .sent
            record.sentChannel = channel
            record.lastError = nil
            emitted = try? OutboundMessage(
                NotificationDelivered(
                    notificationID: record.id, idempotencyKey: record.idempotencyKey, registrationID: record.registrationID,
                    kind: record.kind,
                    channel: channel, language: record.recipient.language, attempts: record.totalAttempts, deliveredAt: now),
                correlationID: record.registrationID)
        case let failure? where !failure.isPermanent && record.attempts < configuration.maxAttempts:
            // (a transient failure, or the channel refused: tried again after a backoff)
            record.status = .pending
            if case .transient(let reason) = failure { record.lastError = reason } else { record.lastError = failure.description }
            let ceiling = min(configuration.retryMax, configuration.retryBase * Double(1 << min(record.attempts - 1, 30)))
            record.dueAt = now.addingTimeInterval(ceiling / 2 + Double.random(in: 0...(ceiling / 2)))
        case let failure?:
            record.lastError = failure.description
            if let next = nextChannel(of: record, from: record.channelIndex + 1) {
                // Fall back to the next channel in the recipient's order that runs here.
                record.channelIndex = next
                record.attempts = 0
                record.status = .pending
                record.dueAt = now
            } else {
                record.status = .failed
                emitted = failed(record, channel: channel, failure: failure, at: now)
            }
        }
        return Attempted(
            record: record, channel: channel, started: started, finished: now, outcome: outcome, emitted: emitted,
            triedIndex: sending.channelIndex, trace: trace ?? record.trace)
    }

    /// `notification.failed` for `record`, given up on `channel`.
    private func failed(_ record: NotificationRecord, channel: ChannelName, failure: DeliveryError, at now: Date) -> OutboundMessage? {
        try? OutboundMessage(
            NotificationFailed(
                notificationID: record.id, idempotencyKey: record.idempotencyKey, registrationID: record.registrationID, kind: record.kind,
                channel: channel, reason: failure.description, permanent: failure.isPermanent, attempts: record.totalAttempts,
                failedAt: now),
            correlationID: record.registrationID)
    }

    /// Records outcomes in the caller's transaction; returns them as recorded. One whose row is no
    /// longer as it expects (cancelled or erased while it was sent) leaves the row as it is, and
    /// emits nothing: only its attempt is recorded (without the relay's words, if erased); except
    /// a send that went through over a cancelled row, which is recorded sent (it was).
    func record(_ outcomes: [Attempted], in db: Database) throws -> [Attempted] {
        let service = context.configuration.kind
        var recorded: [Attempted] = []
        for var ended in outcomes {
            defer { recorded.append(ended) }
            guard !ended.overtaken else { continue }  // (found withdrawn before it was sent: nothing happened)
            let record = ended.record
            let erased = try NotificationStore.isErased(record.id, in: db)
            if var attempt = ended.attempt {
                if erased { attempt.detail = nil }
                try NotificationStore.recordAttempt(attempt, in: db)
            }
            guard !erased, try NotificationStore.recordOutcome(record, over: ended.expected, in: db) else {
                ended.overtaken = true
                ended.emitted = nil
                continue
            }
            if let emitted = ended.emitted {
                try Outbox.append([emitted], causedBy: "\(record.id)#\(record.totalAttempts)", service: service, trace: ended.trace, in: db)
            }
        }
        return recorded
    }

    /// After their commit: the outbox is rung for what they emit, the other channels' workers
    /// for what falls back to them; metrics and a log line each, and the operator's line when a
    /// channel's provider starts or stops refusing the channel itself.
    private func reported(_ outcomes: [Attempted]) {
        guard !outcomes.isEmpty else { return }
        if outcomes.contains(where: { $0.emitted != nil }) { context.outbox.ring() }
        if outcomes.contains(where: { !$0.overtaken && $0.record.channelIndex != $0.triedIndex }) { context.changes.ring() }
        for ended in outcomes {
            let record = ended.record
            recordMetrics(channel: ended.channel, outcome: ended.label, seconds: ended.finished.timeIntervalSince(ended.started))
            var refused = false
            if ended.tried, case .channelRefused(let reason)? = ended.outcome {
                refused = true
                if refusals.start(ended.channel) {
                    context.logger.error(
                        """
                        the provider refuses the channel itself (its credentials, its sender or this server): every notification \
                        on it waits and is retried with backoff until the channel's settings are fixed
                        """,
                        metadata: ["channel": "\(ended.channel.rawValue)", "reason": "\(reason)"])
                }
            } else if ended.tried, ended.outcome == nil, refusals.end(ended.channel) {
                context.logger.info("the channel's provider takes notifications again", metadata: ["channel": "\(ended.channel.rawValue)"])
            }
            // (one refusal of the channel is told above; each notification it holds up, at debug level)
            context.logger.log(
                level: refused ? .debug : .info,
                ended.overtaken
                    ? "notification cancelled or erased while it was claimed: left as it is" : "notification \(record.status.rawValue)",
                metadata: [
                    "notification.id": "\(record.id)", "kind": "\(record.kind.rawValue)", "channel": "\(ended.channel.rawValue)",
                    "attempt": "\(record.totalAttempts)", "outcome": "\(ended.label)",
                    "reason": "\(Redaction.emailAddresses(in: ended.outcome?.description ?? record.lastError ?? "-"))",
                ])
        }
    }
}

extension DeliveryService {
    /// Per channel, for `/metrics`: `notification_attempts_total{service,channel,outcome}`
    /// (`sent`; `retrying`: a transient failure, tried again later; `fallback`: given up on this
    /// channel, or the channel does not run here, the next one of the recipient's is tried;
    /// `failed`: no channel left; `opted-out`: withdrawn at its claim; `withdrawn`: cancelled or
    /// erased while it waited for a lane, not sent) and
    /// `notification_send_seconds{service,channel}` (one attempt, rendering and sending).
    func recordMetrics(channel: ChannelName, outcome: String, seconds: Double) {
        let metrics = context.metrics
        metrics.registry.makeCounter(
            descriptor: .metric(
                "notification_attempts_total",
                help: "Delivery attempts by channel and outcome (sent, retrying, fallback, failed, opted-out, withdrawn)"),
            labels: [("service", metrics.service), ("channel", channel.rawValue), ("outcome", outcome)]
        ).increment()
        metrics.registry.makeDurationHistogram(
            descriptor: .metric("notification_send_seconds", help: "One delivery attempt, rendering and sending"),
            labels: [("service", metrics.service), ("channel", channel.rawValue)],
            buckets: [
                .milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(500), .seconds(1), .seconds(5), .seconds(30),
            ]
        ).recordNanoseconds(Int64(max(0, seconds) * 1_000_000_000))
    }
}

/// A worker's claimed notifications: those waiting for a lane, the lanes sending, and the
/// outcomes of the sends that ended, until the worker's next turn records them.
final class Lanes: Sendable {
    private struct State {
        var queued: [DeliveryService.Claimed] = []
        var queuedFrom = 0
        var sending = 0
        var lanes = 0
        var outcomes: [DeliveryService.Attempted] = []
    }
    private let state = Mutex(State())

    /// Notifications claimed and not yet recorded as sent or not.
    var held: Int { state.withLock { $0.queued.count - $0.queuedFrom + $0.sending } }

    /// Queues `claimed`; returns how many lanes to start (up to `lanes` run at once).
    func enqueue(_ claimed: [DeliveryService.Claimed], lanes: Int) -> Int {
        state.withLock { state in
            state.queued.removeFirst(state.queuedFrom)  // (what lanes took already)
            state.queuedFrom = 0
            state.queued.append(contentsOf: claimed)
            let starting = max(0, min(lanes - state.lanes, state.queued.count - state.queuedFrom))
            state.lanes += starting
            return starting
        }
    }

    /// The next queued notification for a lane, counted as sending; nil when none is left, and
    /// the lane is then no longer counted (in the same step: what is queued after it has gone
    /// starts a lane of its own).
    func next() -> DeliveryService.Claimed? {
        state.withLock { state in
            guard state.queuedFrom < state.queued.count else {
                state.queued = []
                state.queuedFrom = 0
                state.lanes -= 1
                return nil
            }
            defer { state.queuedFrom += 1 }
            state.sending += 1
            return state.queued[state.queuedFrom]
        }
    }

    func ended(_ outcome: DeliveryService.Attempted) {
        state.withLock {
            $0.sending -= 1
            $0.outcomes.append(outcome)
        }
    }

    func takeOutcomes() -> [DeliveryService.Attempted] {
        state.withLock { state in
            defer { state.outcomes = [] }
            return state.outcomes
        }
    }

    /// What was claimed and never started (the service stopped).
    func takeQueued() -> [DeliveryService.Claimed] {
        state.withLock { state in
            defer {
                state.queued = []
                state.queuedFrom = 0
            }
            return Array(state.queued[state.queuedFrom...])
        }
    }

    func putBack(_ outcomes: [DeliveryService.Attempted]) { state.withLock { $0.outcomes = outcomes + $0.outcomes } }
}

/// The channels whose provider refused the channel itself at their last attempt
/// (`DeliveryError.channelRefused`): the operator hears once when that starts, and once when it
/// ends, not once per notification.
final class ChannelRefusals: Sendable {
    private let refused = Mutex<Set<ChannelName>>([])

    /// Notes that `channel` is refused; true if it was not already.
    func start(_ channel: ChannelName) -> Bool { refused.withLock { $0.insert(channel).inserted } }

    /// Notes that `channel` works; true if it was refused until now.
    func end(_ channel: ChannelName) -> Bool { refused.withLock { $0.remove(channel) != nil } }
}

/// The events notifications mention, decoded once per version: a claim reads only the version.
final class EventCache: Sendable {
    private let events = Mutex<[String: EventRecord]>([:])

    func event(_ eventID: String, in db: Database) throws -> EventRecord? {
        guard let version = try NotificationStore.eventVersion(eventID, in: db) else { return nil }
        if let known = events.withLock({ $0[eventID] }), known.version == version { return known }
        let event = try NotificationStore.event(eventID, in: db)
        events.withLock { $0[eventID] = event }
        return event
    }
}
