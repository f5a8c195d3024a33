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
/// transient failure is retried with exponential backoff and jitter up to `maxAttempts`; a
/// permanent one (or the last attempt) moves to the next channel in the recipient's order, and
/// when there is none ends in `failed` and `notification.failed`. A notification caught
/// mid-send by a crash is sent again on restart (at least once; the e-mail keeps its
/// Message-ID, the webhook its idempotency key, so receivers can drop the copy).
///
/// Each attempt is a span (`deliver <kind>`, with `render` and `send <channel>` inside) in the
/// trace of the message that queued the notification; its outcome is published in it.
public final class DeliveryService: Service {
    private let context: ServiceHost.Context
    private let configuration: NotificationsConfiguration
    private let renderer: Renderer
    private let clock: @Sendable () -> Date

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

    /// Keeps up to `concurrency` sends in flight on `channel`: whenever one ends, the next due
    /// notifications are claimed (marked `sending` in one transaction) and started. Finished
    /// sends leave nothing behind (a discarding task group: a long run does not accumulate
    /// them). Between claims it sleeps until the store changes (the pipeline queued
    /// notifications, a send ended) or the next pending notification on the channel is due.
    private func work(_ channel: ChannelName) async {
        let changes = context.changes
        let inFlight = Counter()
        var failures = 0
        await withDiscardingTaskGroup { group in
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                let seen = changes.generation
                let free = configuration.concurrency - inFlight.value
                var wake = Duration.seconds(3600)
                if free > 0 {
                    do {
                        let now = clock()
                        let (claimed, next) = try await context.store.database.write { db in
                            let claimed = try NotificationStore.claim(channel: channel, now: now, limit: free, in: db)
                            return (claimed, try NotificationStore.nextDue(channel: channel, in: db))
                        }
                        failures = 0
                        for record in claimed {
                            inFlight.add(1)
                            group.addTask {
                                await self.deliver(record)
                                inFlight.add(-1)
                                changes.ring()
                            }
                        }
                        if claimed.count == free { continue }  // more may be due at once
                        if let next { wake = .milliseconds(max(1, Int(next.timeIntervalSince(clock()) * 1000))) }
                    } catch {
                        failures += 1
                        let delay = min(30, 0.2 * Double(1 << min(failures, 8)))
                        context.logger.error(
                            "cannot claim due notifications; retrying",
                            metadata: ["channel": "\(channel.rawValue)", "error": "\(error)", "retry_in_s": "\(delay)"])
                        wake = .seconds(delay)
                    }
                }
                let timeout = min(wake, .seconds(3600))
                _ = try? await cancelWhenGracefulShutdown { await changes.wait(after: seen, timeout: timeout) }
            }
        }
    }

    /// Sends a claimed notification once on its current channel and records the outcome.
    func deliver(_ record: NotificationRecord) async {
        guard let name = record.channel else { return }
        let started = clock()
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
            let eventID = record.eventID
            // (the address's digest only for what one may stop)
            let address = record.isEssential ? nil : OptOutLinks.digest(record.recipient.email)
            let (event, optedOut) = try await context.store.database.read { db in
                (
                    try eventID.flatMap { try NotificationStore.event($0, in: db) },
                    try address.map { try NotificationStore.isOptedOut($0, in: db) } ?? false
                )
            }
            if optedOut {
                await withdraw(record, channel: name, reason: "the recipient stopped non-essential notifications")
                return
            }
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
            outcome = error
        } catch {
            outcome = .permanent("cannot render: \(error)")
        }
        // (the reason stays in the logs, without addresses: a span carries no personal data)
        if outcome != nil { span.setStatus(SpanStatus(code: .error, message: "not delivered on this attempt")) }
        await finish(record, channel: name, started: started, outcome: outcome, trace: TraceContext(span.context, tracer: tracer))
    }

    /// Ends a notification its recipient stopped before it went: cancelled, nothing sent.
    private func withdraw(_ sending: NotificationRecord, channel: ChannelName, reason: String) async {
        var record = sending
        record.status = .cancelled
        record.lastError = reason
        do {
            try await context.store.database.write { [record] db in
                // (unless it was erased meanwhile: then it holds nothing to record)
                guard try !NotificationStore.isErased(record.id, in: db) else { return }
                try NotificationStore.recordOutcome(record, in: db)
            }
            recordMetrics(channel: channel, outcome: "opted-out", seconds: 0)
        } catch {
            // Left `sending`: sent again after a restart, and withdrawn then.
            context.logger.error("cannot withdraw a notification", metadata: ["notification.id": "\(record.id)", "error": "\(error)"])
        }
    }

    /// Records the attempt's outcome; `notification.delivered` or `.failed` goes out in `trace`
    /// (the attempt's span), else in the notification's.
    private func finish(
        _ sending: NotificationRecord, channel: ChannelName, started: Date, outcome: DeliveryError?, trace: TraceContext?
    ) async {
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
        case .transient(let reason)? where record.attempts < configuration.maxAttempts:
            record.status = .pending
            record.lastError = reason
            let ceiling = min(configuration.retryMax, configuration.retryBase * Double(1 << min(record.attempts - 1, 30)))
            record.dueAt = now.addingTimeInterval(ceiling / 2 + Double.random(in: 0...(ceiling / 2)))
        case let failure?:
            record.lastError = failure.description
            if record.channelIndex + 1 < record.channels.count {
                // Fall back to the next channel in the recipient's order.
                record.channelIndex += 1
                record.attempts = 0
                record.status = .pending
                record.dueAt = now
            } else {
                record.status = .failed
                emitted = try? OutboundMessage(
                    NotificationFailed(
                        notificationID: record.id, idempotencyKey: record.idempotencyKey, registrationID: record.registrationID,
                        kind: record.kind,
                        channel: channel, reason: failure.description, permanent: failure.isPermanent, attempts: record.totalAttempts,
                        failedAt: now),
                    correlationID: record.registrationID)
            }
        }
        let attempt = DeliveryAttempt(
            notificationID: record.id, attempt: record.totalAttempts, channel: channel, startedAt: started, finishedAt: now,
            outcome: outcome == nil ? "sent" : (outcome?.isPermanent == true ? "permanent" : "transient"), detail: outcome?.description)
        let service = context.configuration.kind
        // The outcome must be recorded, or the notification stays `sending` until a restart:
        // keep trying (a full disk, say) until it is, unless the service is stopping.
        var failures = 0
        while true {
            do {
                try await context.store.database.write { [record, emitted] db in
                    // Erased while it was being sent: record only that an attempt was made.
                    if try NotificationStore.isErased(record.id, in: db) {
                        var bare = attempt
                        bare.detail = nil
                        try NotificationStore.recordAttempt(bare, in: db)
                        return
                    }
                    try NotificationStore.recordOutcome(record, in: db)
                    try NotificationStore.recordAttempt(attempt, in: db)
                    if let emitted {
                        try Outbox.append(
                            [emitted], causedBy: "\(record.id)#\(record.totalAttempts)", service: service, trace: trace ?? record.trace,
                            in: db)
                    }
                }
                break
            } catch {
                failures += 1
                context.logger.error(
                    "cannot record a delivery; retrying", metadata: ["notification.id": "\(record.id)", "error": "\(error)"])
                if Task.isCancelled || (Task.isShuttingDownGracefully && failures > 3) { return }
                try? await Task.sleep(for: .seconds(min(30, 0.2 * Double(1 << min(failures, 8)))))
            }
        }
        if emitted != nil { context.outbox.ring() }
        recordMetrics(
            channel: channel,
            outcome: outcome == nil
                ? "sent" : (record.status == .failed ? "failed" : (record.channelIndex != sending.channelIndex ? "fallback" : "retrying")),
            seconds: now.timeIntervalSince(started))
        context.logger.info(
            "notification \(record.status.rawValue)",
            metadata: [
                "notification.id": "\(record.id)", "kind": "\(record.kind.rawValue)", "channel": "\(channel.rawValue)",
                "attempt": "\(record.totalAttempts)", "reason": "\(Redaction.emailAddresses(in: outcome?.description ?? "-"))",
            ])
    }
}

extension DeliveryService {
    /// Per channel, for `/metrics`: `notification_attempts_total{service,channel,outcome}`
    /// (`sent`; `retrying`: a transient failure, tried again later; `fallback`: given up on this
    /// channel, the next one of the recipient's is tried; `failed`: no channel left) and
    /// `notification_send_seconds{service,channel}` (one attempt, rendering and sending).
    func recordMetrics(channel: ChannelName, outcome: String, seconds: Double) {
        let metrics = context.metrics
        metrics.registry.makeCounter(
            name: "notification_attempts_total",
            labels: [("service", metrics.service), ("channel", channel.rawValue), ("outcome", outcome)],
            help: "Delivery attempts by channel and outcome (sent, retrying, fallback, failed)"
        ).increment()
        metrics.registry.makeDurationHistogram(
            name: "notification_send_seconds", labels: [("service", metrics.service), ("channel", channel.rawValue)],
            buckets: [
                .milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(500), .seconds(1), .seconds(5), .seconds(30),
            ],
            help: "One delivery attempt, rendering and sending"
        ).recordNanoseconds(Int64(max(0, seconds) * 1_000_000_000))
    }
}

/// Sends in flight on one channel.
private final class Counter: Sendable {
    private let count = Mutex(0)
    var value: Int { count.withLock { $0 } }
    func add(_ delta: Int) { count.withLock { $0 += delta } }
}
