import DequeModule
import Foundation
import Logging
import Synchronization

/// The state of a connection as callers see it.
public enum ConnectionStatus: Sendable, Equatable {
    case open
    /// Lost and reconnecting; `attempt` counts the tries so far.
    case recovering(attempt: Int)
    case closed
}

/// A consumer as the engine knows it (thread-confined).
final class ConsumerRegistration {
    let queue: String
    let tag: String
    let prefetch: UInt16
    let arguments: AMQPTable
    let stream: AsyncThrowingStream<Delivery, any Error>.Continuation
    var channel: UInt16
    var acks = AckTracker()
    /// `basic.cancel` sent by us; the stream ends at `cancel-ok`.
    var cancelRequested = false
    /// `cancel-ok` received; the channel closes once every delivery is settled.
    var cancelled = false
    var cancelWaiters: [CheckedContinuation<Void, Never>] = []

    init(
        queue: String, tag: String, prefetch: UInt16, arguments: AMQPTable, channel: UInt16,
        stream: AsyncThrowingStream<Delivery, any Error>.Continuation
    ) {
        self.queue = queue
        self.tag = tag
        self.prefetch = prefetch
        self.arguments = arguments
        self.channel = channel
        self.stream = stream
    }
}

/// A message whose frames are still arriving (method, then header, then body frames).
final class PartialContent {
    enum Kind {
        case delivery(Envelope)
        case returned(ReplyCode, text: String, exchange: String, routingKey: String)
    }

    let kind: Kind
    var properties: MessageProperties?
    var bodySize: UInt64 = 0
    var body = Data()

    init(kind: Kind) { self.kind = kind }

    var isComplete: Bool { properties != nil && UInt64(body.count) >= bodySize }
}

/// Everything one AMQP connection does, run on the connection's own thread.
///
/// The thread loops: run the commands callers submitted (publish, settle, declare, consume…),
/// write queued publishes and acks, read every frame that has arrived and dispatch it (confirms,
/// deliveries, returns, closes), check deadlines, then sleep in `poll()` on the socket and the
/// mailbox's eventfd. No librabbitmq call happens anywhere else, and none can block past
/// `ioTimeout` (see `IOGuard`).
///
/// `@unchecked Sendable`: every stored property below `publicStatus` is touched only on the
/// engine's thread (commands reach it through `mailbox`); `publicStatus` is a `Mutex`.
final class ConnectionEngine: @unchecked Sendable {
    static let publishChannel: UInt16 = 1
    static let adminChannel: UInt16 = 2

    let configuration: AMQPConfiguration
    /// Which of `configuration.endpoints` the connection uses (or tries next).
    private var endpointIndex = 0
    private var endpoint: AMQPConfiguration.Endpoint { configuration.endpoints[endpointIndex] }
    let logger: Logger
    let mailbox: Mailbox
    let ioGuard = IOGuard()
    let publicStatus = Mutex<ConnectionStatus>(.recovering(attempt: 0))

    private var raw: RawConnection?
    private(set) var phase: Phase = .connecting
    private var confirms: ConfirmTracker
    private var consumers: [UInt16: ConsumerRegistration] = [:]
    /// Content being assembled, by channel number.
    private var partial: [PartialContent?] = Array(repeating: nil, count: 8)
    private var recorded = Topology()
    private var channelEpochs: [UInt16: UInt64] = [:]
    private var epochCounter: UInt64 = 0
    private var adminChannelOpen = false
    private var publishChannelOpen = false
    private var freeChannels: [UInt16] = []
    private var nextChannel: UInt16 = 3
    private var consumerCounter = 0
    private var recoveryAttempt = 0
    private var nextRecoveryAt: UInt64 = 0
    private var closeDeadline: UInt64 = 0
    private var closeWaiters: [CheckedContinuation<Void, Never>] = []
    private var writeBlocked = false
    /// The broker said `connection.blocked` (a memory or disk alarm): it reads nothing more from
    /// a publishing connection, so publishes wait here (until their deadline) instead of filling
    /// the socket until a write blocks the connection thread.
    private var brokerBlocked = false
    private var lastTimerCheck: UInt64 = 0

    enum Phase { case connecting, open, recovering, closing, closed }

    init(configuration: AMQPConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        self.mailbox = try Mailbox()
        self.confirms = ConfirmTracker(window: configuration.maxUnconfirmed)
    }

    /// Starts the thread; `connected` is resumed after the first connection attempt.
    func start(connected: CheckedContinuation<Void, any Error>) {
        let thread = Thread { [self] in
            do {
                try establishOnAnyEndpoint()
                connected.resume()
            } catch {
                phase = .closed
                publicStatus.withLock { $0 = .closed }
                connected.resume(throwing: error)
                for command in mailbox.shut() { command(self) }
                return
            }
            loop()
        }
        thread.name = "amqp \(configuration.connectionName)"
        thread.start()
    }

    // MARK: The loop

    private func loop() {
        while phase != .closed {
            for command in mailbox.take() { command(self) }
            if let raw, phase == .open || phase == .closing {
                service(raw)
            }
            runTimers()
            if phase != .closed { sleep() }
        }
        for command in mailbox.shut() { command(self) }
    }

    /// Writes what is queued and reads what has arrived.
    private func service(_ raw: RawConnection) {
        do {
            try guarded {
                try flushAcks(raw)
                try writePublishes(raw)
                var frames = 0
                while frames < 4096, let frame = try raw.nextFrame() {
                    try dispatch(frame, raw)
                    frames += 1
                }
                raw.releaseBuffers()
                if frames > 0 { try writePublishes(raw) }
            }
        } catch {
            connectionFailed(error)
        }
    }

    private func sleep() {
        let now = monotonicNanoseconds()
        var timeout: UInt64 = 1_000_000_000
        if let deadline = confirms.nextDeadline {
            // (expiries are looked at every 20 ms: a shorter wait for one already due would spin)
            let due = max(deadline, lastTimerCheck &+ 20_000_000)
            timeout = min(timeout, due > now ? max(due - now, 2_000_000) : 2_000_000)
        }
        switch phase {
        case .open, .closing:
            guard let raw else { break }
            if raw.hasBufferedInput { return }
            let heartbeat = UInt64(raw.heartbeat)
            if heartbeat > 0 { timeout = min(timeout, max(20_000_000, min(500_000_000, heartbeat * 1_000_000_000 / 8))) }
            if phase == .closing { timeout = min(timeout, 50_000_000) }
            let inFlight = confirms.unconfirmedCount > 0 || consumers.values.contains { !$0.acks.isClear }
            _ = mailbox.wait(
                socket: raw.descriptor, wantWrite: writeBlocked && !brokerBlocked && confirms.nextToSend != nil,
                timeoutMilliseconds: Int32(timeout / 1_000_000), lightly: inFlight)
            return
        case .recovering:
            timeout = min(timeout, nextRecoveryAt > now ? nextRecoveryAt - now : 0)
        default:
            break
        }
        _ = mailbox.wait(socket: -1, wantWrite: false, timeoutMilliseconds: Int32(timeout / 1_000_000))
    }

    private func runTimers() {
        let now = monotonicNanoseconds()
        guard now &- lastTimerCheck >= 20_000_000 else { return }
        lastTimerCheck = now
        for publish in confirms.expire(now: now) {
            publish.completion.resolve(
                AMQPError.timeout(
                    operation:
                        "publishing to exchange '\(publish.exchange)' with routing key '\(publish.routingKey)' "
                        + "(waiting for the broker's confirm)",
                    seconds: configuration.publishTimeout))
        }
        switch phase {
        case .recovering where now >= nextRecoveryAt:
            attemptRecovery()
        case .closing where confirms.isIdle || now >= closeDeadline || raw == nil:
            finishClose()
        default:
            break
        }
    }

    /// Arms the watchdog around blocking librabbitmq calls.
    private func guarded<T>(_ body: () throws -> T) throws -> T {
        ioGuard.arm(seconds: configuration.ioTimeout)
        defer { ioGuard.disarm() }
        return try body()
    }

    // MARK: Connecting and recovering

    /// The first connection: each endpoint in turn until one answers; the last error otherwise.
    private func establishOnAnyEndpoint() throws {
        var lastError: (any Error)?
        for _ in configuration.endpoints {
            do {
                return try establish()
            } catch {
                teardown()
                lastError = error
                guard (error as? AMQPError)?.isTransient ?? true else { throw error }
                nextEndpoint()
            }
        }
        throw lastError ?? AMQPError.connectionLost("no endpoint")
    }

    /// Moves on to the next node of the cluster, after one did not answer.
    private func nextEndpoint() {
        guard configuration.endpoints.count > 1 else { return }
        endpointIndex = (endpointIndex + 1) % configuration.endpoints.count
        logger.info("AMQP trying the next node", metadata: ["amqp.endpoint": "\(endpoint)"])
    }

    private func establish() throws {
        let raw = try RawConnection(configuration: configuration.at(endpoint))
        self.raw = raw
        try raw.open()
        ioGuard.attach(descriptor: raw.descriptor)
        try guarded {
            try raw.openChannel(Self.adminChannel)
            newEpoch(Self.adminChannel)
            adminChannelOpen = true
            try openPublishChannel(raw)
            try declare(recorded, raw, record: false)
            for registration in consumers.values.sorted(by: { $0.channel < $1.channel }) {
                do {
                    try restore(registration, raw)
                } catch let error as AMQPError {
                    guard case .channelClosedByBroker = error else { throw error }
                    logger.error("cannot resume consumer", metadata: ["amqp.queue": "\(registration.queue)", "amqp.error": "\(error)"])
                    consumers[registration.channel] = nil
                    registration.stream.finish(throwing: error)
                }
            }
        }
        phase = .open
        publicStatus.withLock { $0 = .open }
    }

    private func openPublishChannel(_ raw: RawConnection) throws {
        try raw.openChannel(Self.publishChannel)
        try raw.confirmSelect(Self.publishChannel)
        publishChannelOpen = true
    }

    private func attemptRecovery() {
        recoveryAttempt += 1
        publicStatus.withLock { $0 = .recovering(attempt: recoveryAttempt) }
        do {
            try establish()
            logger.info(
                "AMQP connection recovered",
                metadata: [
                    "amqp.endpoint": "\(endpoint)", "amqp.attempts": "\(recoveryAttempt)",
                    "amqp.republishing": "\(confirms.waiting.count)",
                ])
            recoveryAttempt = 0
        } catch {
            teardown()
            let delay = configuration.recovery.delay(forAttempt: recoveryAttempt + 1)
            nextRecoveryAt = monotonicNanoseconds() + nanoseconds(delay)
            logger.warning(
                "AMQP reconnect failed",
                metadata: [
                    "amqp.endpoint": "\(endpoint)", "amqp.attempt": "\(recoveryAttempt)",
                    "amqp.error": "\(error)", "amqp.retry_in_s": "\(String(format: "%.2f", delay))",
                ])
            nextEndpoint()
        }
    }

    /// The connection is gone: drop it, and recover (or close) according to configuration.
    private func connectionFailed(_ error: any Error) {
        var reason = (error as? AMQPError) ?? .connectionLost("\(error)")
        if ioGuard.fired {
            reason = .connectionLost(
                "a call to the broker stalled for more than \(configuration.ioTimeout) s, so the connection was dropped")
        }
        teardown()
        if phase == .closing {
            finishClose()
            return
        }
        let recover = configuration.recovery.enabled
        let requeue = recover && configuration.recovery.unconfirmed == .republish
        for publish in confirms.resetChannel(requeue: requeue) {
            publish.completion.resolve(reason)
        }
        for registration in consumers.values {
            registration.acks = AckTracker()
            if registration.cancelled || registration.cancelRequested {
                consumers[registration.channel] = nil
                finishCancelled(registration)
            }
        }
        guard recover else {
            logger.error("AMQP connection lost", metadata: ["amqp.error": "\(reason)"])
            shutDown(reason: reason)
            return
        }
        logger.warning("AMQP connection lost; recovering", metadata: ["amqp.error": "\(reason)"])
        phase = .recovering
        nextRecoveryAt = monotonicNanoseconds() + nanoseconds(configuration.recovery.delay(forAttempt: 1))
        publicStatus.withLock { $0 = .recovering(attempt: 0) }
    }

    /// Destroys the C connection; every channel and its settlements become stale.
    private func teardown() {
        ioGuard.detach()
        raw?.destroy()
        raw = nil
        adminChannelOpen = false
        publishChannelOpen = false
        for index in partial.indices { partial[index] = nil }
        channelEpochs.removeAll()
        writeBlocked = false
        brokerBlocked = false
    }

    /// Ends everything with `reason` (no recovery).
    private func shutDown(reason: AMQPError) {
        for publish in confirms.removeAll() { publish.completion.resolve(reason) }
        for registration in consumers.values { registration.stream.finish(throwing: reason) }
        consumers.removeAll()
        phase = .closed
        publicStatus.withLock { $0 = .closed }
    }

    // MARK: Closing

    func beginClose(timeout: Double, waiter: CheckedContinuation<Void, Never>) {
        if phase == .closed {
            waiter.resume()
            return
        }
        closeWaiters.append(waiter)
        guard phase != .closing else { return }
        guard raw != nil, phase == .open else {
            finishClose()
            return
        }
        phase = .closing
        closeDeadline = monotonicNanoseconds() + nanoseconds(timeout)
    }

    private func finishClose() {
        if let raw {
            _ = try? guarded { raw.close() }
            teardown()
        }
        for publish in confirms.removeAll() { publish.completion.resolve(AMQPError.closed) }
        for registration in consumers.values { finishCancelled(registration) }
        consumers.removeAll()
        phase = .closed
        publicStatus.withLock { $0 = .closed }
        for waiter in closeWaiters { waiter.resume() }
        closeWaiters.removeAll()
    }

    // MARK: Channels

    private func newEpoch(_ channel: UInt16) {
        epochCounter += 1
        channelEpochs[channel] = epochCounter
    }

    private func allocateChannel() -> UInt16? {
        if let channel = freeChannels.popLast() { return channel }
        guard nextChannel < 2047 else { return nil }
        defer { nextChannel += 1 }
        return nextChannel
    }

    /// The broker closed one channel (the connection lives on).
    private func channelClosed(_ channel: UInt16, _ error: AMQPError, _ raw: RawConnection) throws {
        channelEpochs[channel] = nil
        setPartial(nil, on: channel)
        logger.warning("AMQP channel closed by the broker", metadata: ["amqp.channel": "\(channel)", "amqp.error": "\(error)"])
        switch channel {
        case Self.publishChannel:
            publishChannelOpen = false
            for publish in confirms.resetChannel(requeue: false) { publish.completion.resolve(error) }
            try openPublishChannel(raw)
        case Self.adminChannel:
            adminChannelOpen = false
        default:
            guard let registration = consumers[channel] else { return }
            registration.acks = AckTracker()
            do {
                try restore(registration, raw)
            } catch let failure as AMQPError {
                guard case .channelClosedByBroker = failure else { throw failure }
                consumers[channel] = nil
                registration.stream.finish(throwing: failure)
            }
        }
    }

    // MARK: Frames

    private func dispatch(_ frame: InboundFrame, _ raw: RawConnection) throws {
        switch frame {
        case .basicAck(Self.publishChannel, let tag, let multiple):
            complete(confirms.settle(tag: tag, multiple: multiple, ack: true))
        case .basicNack(Self.publishChannel, let tag, let multiple):
            complete(confirms.settle(tag: tag, multiple: multiple, ack: false))
        case .basicDeliver(let channel, let consumerTag, let deliveryTag, let redelivered, let exchange, let routingKey):
            let envelope = Envelope(
                deliveryTag: deliveryTag, redelivered: redelivered, exchange: exchange, routingKey: routingKey, consumerTag: consumerTag)
            setPartial(PartialContent(kind: .delivery(envelope)), on: channel)
        case .basicReturn(let channel, let code, let text, let exchange, let routingKey):
            setPartial(PartialContent(kind: .returned(code, text: text, exchange: exchange, routingKey: routingKey)), on: channel)
        case .contentHeader(let channel, let properties, let bodySize):
            guard let content = partialContent(on: channel) else { break }
            content.properties = properties
            content.bodySize = bodySize
            finishIfComplete(content, on: channel)
        case .contentBody(let channel, let data):
            guard let content = partialContent(on: channel) else { break }
            if content.body.isEmpty {
                content.body = data
            } else {
                content.body.append(data)
            }
            finishIfComplete(content, on: channel)
        case .basicCancel(let channel, let consumerTag, let noWait):
            if !noWait { try raw.sendCancelOk(channel, consumerTag: consumerTag) }
            if let registration = consumers[channel] {
                logger.warning("AMQP consumer cancelled by the broker", metadata: ["amqp.queue": "\(registration.queue)"])
                registration.cancelled = true
                registration.stream.finish(throwing: AMQPError.consumerCancelled(queue: registration.queue))
            }
        case .basicCancelOk(let channel, _):
            if let registration = consumers[channel] {
                registration.cancelled = true
                finishCancelled(registration)
            }
        case .channelClose(let channel, let code, let text):
            try raw.sendChannelCloseOk(channel)
            try channelClosed(channel, .channelClosedByBroker(code, text: text), raw)
        case .channelFlow(let channel, let active):
            try raw.sendFlowOk(channel, active: active)
        case .connectionClose(let code, let text):
            try? raw.sendConnectionCloseOk()
            throw AMQPError.connectionClosedByBroker(code, text: text)
        case .connectionBlocked(let reason):
            brokerBlocked = true
            logger.warning("AMQP connection blocked by the broker; publishes wait", metadata: ["amqp.reason": "\(reason)"])
        case .connectionUnblocked:
            brokerBlocked = false
            logger.info("AMQP connection unblocked")
        case .basicAck, .basicNack, .channelCloseOk, .other:
            break
        }
    }

    private func partialContent(on channel: UInt16) -> PartialContent? {
        Int(channel) < partial.count ? partial[Int(channel)] : nil
    }

    private func setPartial(_ content: PartialContent?, on channel: UInt16) {
        let index = Int(channel)
        if index >= partial.count {
            guard content != nil else { return }
            partial += Array(repeating: nil, count: index + 1 - partial.count)
        }
        partial[index] = content
    }

    private func finishIfComplete(_ content: PartialContent, on channel: UInt16) {
        guard content.isComplete, let properties = content.properties else { return }
        setPartial(nil, on: channel)
        switch content.kind {
        case .delivery(let envelope):
            guard let registration = consumers[channel], let epoch = channelEpochs[channel] else { return }
            registration.acks.delivered(tag: envelope.deliveryTag)
            let settlement = Settlement(mailbox: mailbox, channel: channel, epoch: epoch, tag: envelope.deliveryTag)
            registration.stream.yield(Delivery(envelope: envelope, properties: properties, body: content.body, settlement: settlement))
        case .returned(let code, let text, let exchange, let routingKey):
            confirms.markReturned(
                exchange: exchange, routingKey: routingKey, messageID: properties.messageID,
                error: .unroutable(exchange: exchange, routingKey: routingKey, code, text: text))
        }
    }

    private func complete(_ settled: [(PendingPublish, AMQPError?)]) {
        for (publish, error) in settled {
            publish.completion.resolve(error)
        }
    }

    // MARK: Publishing

    func enqueuePublish(_ publish: PendingPublish) {
        switch phase {
        case .closing, .closed:
            publish.completion.resolve(AMQPError.closed)
        default:
            confirms.enqueue(publish)
        }
    }

    func enqueuePublishes(_ publishes: [PendingPublish]) {
        for publish in publishes { enqueuePublish(publish) }
    }

    private func writePublishes(_ raw: RawConnection) throws {
        guard publishChannelOpen, !brokerBlocked, confirms.nextToSend != nil else { return }
        var written = 0
        while let next = confirms.nextToSend {
            if written % 64 == 0, !raw.isWritable {
                writeBlocked = true
                return
            }
            do {
                try raw.publish(Self.publishChannel, next)
            } catch let error as AMQPError {
                // This message alone cannot be encoded (nothing of it was written): it fails, the
                // connection and the messages behind it go on.
                guard case .unwritable = error else { throw error }
                confirms.dropNext().completion.resolve(error)
                continue
            }
            confirms.didSend()
            written += 1
        }
        writeBlocked = false
    }

    // MARK: Consuming and settling

    func settle(channel: UInt16, epoch: UInt64, tag: UInt64, _ kind: Settlement.Kind) {
        guard let raw, channelEpochs[channel] == epoch else { return }
        let registration = consumers[channel]
        do {
            try guarded {
                switch kind {
                case .ack:
                    if let registration {
                        _ = registration.acks.requestAck(tag: tag)
                    } else {
                        try raw.ack(channel, tag: tag, multiple: false)
                    }
                case .nack(let requeue):
                    if registration?.acks.settle(tag: tag) ?? true { try raw.nack(channel, tag: tag, requeue: requeue) }
                case .reject(let requeue):
                    if registration?.acks.settle(tag: tag) ?? true { try raw.reject(channel, tag: tag, requeue: requeue) }
                }
            }
        } catch {
            connectionFailed(error)
        }
    }

    private func flushAcks(_ raw: RawConnection) throws {
        for registration in consumers.values {
            for (tag, multiple) in registration.acks.flush() {
                try raw.ack(registration.channel, tag: tag, multiple: multiple)
            }
            if registration.cancelled, registration.acks.isClear {
                consumers[registration.channel] = nil
                channelEpochs[registration.channel] = nil
                try raw.closeChannel(registration.channel)
                freeChannels.append(registration.channel)
            }
        }
    }

    func startConsumer(
        queue: String, prefetch: UInt16, arguments: AMQPTable,
        stream: AsyncThrowingStream<Delivery, any Error>.Continuation,
        reply: CheckedContinuation<(channel: UInt16, tag: String), any Error>
    ) {
        guard let raw, phase == .open else {
            reply.resume(throwing: notOpenError)
            return
        }
        guard let channel = allocateChannel() else {
            reply.resume(
                throwing: AMQPError.library(operation: "opening a consumer channel", status: 0, message: "no free channel (2047 in use)"))
            return
        }
        consumerCounter += 1
        let tag = "\(configuration.connectionName).\(consumerCounter)"
        let registration = ConsumerRegistration(
            queue: queue, tag: tag, prefetch: prefetch, arguments: arguments, channel: channel, stream: stream)
        do {
            try guarded { try restore(registration, raw) }
            consumers[channel] = registration
            reply.resume(returning: (channel, tag))
        } catch {
            freeChannels.append(channel)
            if case .channelClosedByBroker = error as? AMQPError {} else { connectionFailed(error) }
            reply.resume(throwing: error)
        }
    }

    /// Opens the consumer's channel and subscribes (first time and after recovery).
    private func restore(_ registration: ConsumerRegistration, _ raw: RawConnection) throws {
        try raw.openChannel(registration.channel)
        newEpoch(registration.channel)
        try raw.qos(registration.channel, prefetch: registration.prefetch)
        try raw.consume(registration.channel, queue: registration.queue, consumerTag: registration.tag, arguments: registration.arguments)
    }

    /// Sends `basic.cancel`; `waiter` resumes when the broker confirms (or the connection ends).
    func cancelConsumer(channel: UInt16, tag: String, waiter: CheckedContinuation<Void, Never>?) {
        guard let registration = consumers[channel], registration.tag == tag, !registration.cancelled else {
            waiter?.resume()
            return
        }
        if let waiter { registration.cancelWaiters.append(waiter) }
        guard !registration.cancelRequested else { return }
        registration.cancelRequested = true
        guard let raw, phase == .open || phase == .closing else {
            consumers[channel] = nil
            finishCancelled(registration)
            return
        }
        do {
            try guarded { try raw.cancel(channel, consumerTag: tag) }
        } catch {
            connectionFailed(error)
        }
    }

    private func finishCancelled(_ registration: ConsumerRegistration) {
        registration.stream.finish()
        for waiter in registration.cancelWaiters { waiter.resume() }
        registration.cancelWaiters.removeAll()
    }

    // MARK: Topology and other RPCs

    private var notOpenError: AMQPError {
        switch phase {
        case .closing, .closed: return .closed
        default: return .connectionLost("not connected (recovery in progress)")
        }
    }

    /// Runs a synchronous RPC on the admin channel, reopening it if the broker closed it.
    func rpc<T>(_ body: (RawConnection, UInt16) throws -> T) -> Result<T, AMQPError> {
        guard let raw, phase == .open else { return .failure(notOpenError) }
        do {
            return .success(
                try guarded {
                    if !adminChannelOpen {
                        try raw.openChannel(Self.adminChannel)
                        newEpoch(Self.adminChannel)
                        adminChannelOpen = true
                    }
                    return try body(raw, Self.adminChannel)
                })
        } catch let error as AMQPError {
            if case .channelClosedByBroker = error {
                adminChannelOpen = false
                channelEpochs[Self.adminChannel] = nil
            } else {
                connectionFailed(error)
            }
            return .failure(error)
        } catch {
            connectionFailed(error)
            return .failure(.connectionLost("\(error)"))
        }
    }

    /// Declares `topology`; with `record`, it is declared again after every recovery.
    func declare(_ topology: Topology, record: Bool) -> Result<Void, AMQPError> {
        rpc { raw, _ in
            try declare(topology, raw, record: record)
        }
    }

    private func declare(_ topology: Topology, _ raw: RawConnection, record: Bool) throws {
        let channel = Self.adminChannel
        for exchange in topology.exchanges {
            try raw.declareExchange(channel, exchange, passive: false)
            if record { recorded = recorded.merging(Topology(exchanges: [exchange])) }
        }
        for queue in topology.queues {
            _ = try raw.declareQueue(channel, queue, passive: false)
            if record { recorded = recorded.merging(Topology(queues: [queue])) }
        }
        for binding in topology.bindings {
            try raw.bindQueue(channel, binding)
            if record { recorded = recorded.merging(Topology(bindings: [binding])) }
        }
        for binding in topology.exchangeBindings {
            try raw.bindExchange(channel, binding)
            if record { recorded = recorded.merging(Topology(exchangeBindings: [binding])) }
        }
    }

    /// Forgets recorded declarations (after deleting them on purpose).
    func forget(queue: String? = nil, exchange: String? = nil) {
        recorded.queues.removeAll { $0.name == queue }
        recorded.exchanges.removeAll { $0.name == exchange }
        recorded.bindings.removeAll { $0.queue == queue || $0.exchange == exchange }
        recorded.exchangeBindings.removeAll { $0.source == exchange || $0.destination == exchange }
    }

    func unrecord(_ binding: Binding) {
        recorded.bindings.removeAll { $0 == binding }
    }

    /// `basic.get` on the admin channel; the delivery is settled on that channel.
    func get(queue: String) -> Result<(Delivery, Int)?, AMQPError> {
        rpc { raw, channel in
            guard let (envelope, properties, body, remaining) = try raw.get(channel, queue: queue) else { return nil }
            let settlement = Settlement(mailbox: mailbox, channel: channel, epoch: channelEpochs[channel] ?? 0, tag: envelope.deliveryTag)
            return (Delivery(envelope: envelope, properties: properties, body: body, settlement: settlement), remaining)
        }
    }
}
