// The notifications service's end-to-end benchmark; run it through `deploy/bench-notifications`.
//
//   notifications-bench --url amqp://guest:guest@127.0.0.1:5673/ --count N [--concurrency C]
//
// In one process, on the real broker and a real SQLite file (synchronous=full, as in
// production), with an SMTP server of its own on 127.0.0.1 that accepts everything:
//
//   end-to-end  N `registration.accepted` are published at once; the service consumes them,
//               records one notification each (inbox, notification, outbox in one commit),
//               renders it (Mustache, three parts) and sends it over SMTP, then records the
//               attempt and emits `notification.delivered`. Timed from the first publish to
//               the N-th message the SMTP server has accepted; `queued_seconds` is when all N
//               were recorded (consumed), `sent_when_queued` how many had gone by then.
//   smtp-only   the same N messages, rendered beforehand, sent by the same SMTP client with
//               the same concurrency over connections kept open (`SMTPPool`, as the service
//               sends): what the channel alone allows.
//   smtp-per-connection  the same, one connection per message (as the service sent before).
//   render-only the renderer on the same N notifications: what the templates alone cost.
//   no-store    the same N `registration.accepted` published again to a queue of their own and
//               handled as the service would without its store: each decoded, its e-mail
//               rendered and sent (kept-open connections, the same concurrency), a
//               `notification.delivered` published with a confirm, then acked. No SQLite, no
//               inbox, no outbox: at most what any service that consumes, renders, sends and
//               reports over this broker reaches on this machine.
//
// Prints one JSON line per stage.
import AMQP
import Foundation
import Logging
import Messages
import NIOCore
import NIOPosix
import NotificationsCore
import ServiceRuntime

struct Failure: Error, CustomStringConvertible {
    let description: String
}

struct Options {
    var url = "amqp://guest:guest@127.0.0.1:5673/"
    var count = 2000
    var concurrency = 4

    init(_ arguments: [String]) throws {
        var iterator = arguments.makeIterator()
        while let flag = iterator.next() {
            guard let value = iterator.next() else { throw Failure(description: "\(flag) needs a value") }
            switch flag {
            case "--url": url = value
            case "--count": count = try Self.positive(flag, value)
            case "--concurrency": concurrency = try Self.positive(flag, value)
            default: throw Failure(description: "unknown option \(flag)")
            }
        }
    }

    static func positive(_ flag: String, _ value: String) throws -> Int {
        guard let n = Int(value), n > 0 else { throw Failure(description: "\(flag) must be a positive whole number") }
        return n
    }
}

/// An SMTP server that accepts every message and counts them; it offers PIPELINING, as relays
/// such as Postfix do.
final class SMTPSink: @unchecked Sendable {
    private let received = SharedCount()
    private(set) var port = 0
    private var channel: Channel?

    var count: Int { received.value }

    func start() async throws {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineDecoder()))
                    try channel.pipeline.syncOperations.addHandler(Session(sink: self))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        self.channel = channel
        port = channel.localAddress?.port ?? 0
    }

    func stop() async { try? await channel?.close() }

    fileprivate func accepted() { received.increment() }

    /// Lines as bytes, without their CRLF (a message body is mostly long base64 lines that
    /// only need to be skipped).
    struct LineDecoder: ByteToMessageDecoder {
        typealias InboundOut = ByteBuffer
        mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
            guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else { return .needMoreData }
            let length = newline - buffer.readerIndex
            guard var line = buffer.readSlice(length: length + 1) else { return .needMoreData }
            line.moveWriterIndex(to: line.writerIndex - (length > 0 && line.getInteger(at: length - 1) == UInt8(ascii: "\r") ? 2 : 1))
            context.fireChannelRead(wrapInboundOut(line))
            return .continue
        }
    }

    final class Session: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let sink: SMTPSink
        var inData = false

        init(sink: SMTPSink) { self.sink = sink }

        func channelActive(context: ChannelHandlerContext) { reply("220 sink ESMTP", context) }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let bytes = unwrapInboundIn(data)
            if inData {
                if bytes.readableBytes == 1 && bytes.readableBytesView.first == UInt8(ascii: ".") {
                    inData = false
                    sink.accepted()
                    reply("250 2.0.0 queued", context)
                }
                return
            }
            switch String(buffer: bytes).prefix(4).uppercased() {
            case "EHLO": reply("250-sink\r\n250-PIPELINING\r\n250 8BITMIME", context)
            case "DATA":
                inData = true
                reply("354 go ahead", context)
            case "QUIT":
                reply("221 bye", context)
                context.close(promise: nil)
            default: reply("250 ok", context)
            }
        }

        func reply(_ text: String, _ context: ChannelHandlerContext) {
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: text + "\r\n")), promise: nil)
        }
    }
}

func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

func peakRSSMegabytes() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Int(usage.ru_maxrss / 1024)
}

func report(_ stage: String, count: Int, seconds: Double, cpu: Double, extra: [String: Any] = [:]) {
    var line: [String: Any] = [
        "stage": stage, "count": count, "seconds": (seconds * 1000).rounded() / 1000,
        "per_second": Int((Double(count) / seconds).rounded()), "cpu_seconds": (cpu * 100).rounded() / 100,
        "peak_rss_mb": peakRSSMegabytes(),
    ]
    line.merge(extra) { $1 }
    if let data = try? JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]) { print(String(decoding: data, as: UTF8.self)) }
}

func accepted(_ index: Int) -> RegistrationAccepted {
    let reference = "bench-\(index)"
    let lead = Contact(
        name: ["Nguyễn Thị Thu Hà", "李伟", "Alex Chen"][index % 3], title: "Director", email: "lead.\(reference)@example.cn",
        phone: "+86 755 1234 5678",
        language: Language.allCases[index % 3])
    let delegation = Delegation(
        organisation: Organisation(
            name: "Benchmark Enterprise \(index)", localName: "基准企业\(index)", country: "CN", sectors: ["logistics"], website: nil),
        role: .visiting, leadContact: lead, delegates: [], interests: Interests(sectors: ["logistics"], topics: []), preferredVisits: [])
    return RegistrationAccepted(
        registrationID: "reg-\(reference)", eventID: "danang-2026-01", reference: reference, revision: 1, delegation: delegation,
        acceptedAt: Date())
}

func run(_ options: Options) async throws {
    var logger = Logger(label: "notifications-bench")
    logger.logLevel = .warning
    let sink = SMTPSink()
    try await sink.start()
    defer { Task { await sink.stop() } }

    let id = String(UUID().uuidString.prefix(6)).lowercased()
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("notifications-bench-\(id)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    var amqp = try AMQPConfiguration(url: options.url)
    amqp.connectionName = "notifications-bench"
    let exchange = "bench-\(id)"
    let service = ServiceConfiguration(
        serviceName: "notifications-bench-\(id)", amqp: amqp, exchange: exchange, archiveMaxAge: "1h",
        storePath: directory.appendingPathComponent("notifications.sqlite").path, synchronous: .full, logLevel: .warning)
    let configuration = NotificationsConfiguration(
        service: service, smtp: SMTPConfiguration(port: sink.port, timeout: 10), digestWindow: 0, quietHours: nil,
        concurrency: options.concurrency)
    let host = try await NotificationsService.makeHost(configuration, logger: logger, connectPatience: 10)
    let running = Task { try await host.run(signals: []) }
    try await host.waitUntilStarted()

    let publisher = try await AMQPConnection.connect(amqp, logger: logger)
    let messages = try (0..<options.count).map {
        try OutgoingMessage.domain(accepted($0), exchange: exchange, appID: "notifications-bench")
    }

    // End to end.
    var cpu = cpuSeconds()
    var started = Date()
    for result in await publisher.publish(messages) { try result.get() }
    var queued: Double?
    var sentWhenQueued = 0
    var polls = 0
    while sink.count < options.count {
        try await Task.sleep(for: .milliseconds(5))
        polls += 1
        // (counted every 50 ms: the count reads the whole table, in the process being measured)
        if queued == nil, polls % 10 == 0,
            try await host.store.database.read({ try NotificationStore.counts(in: $0) }).values.reduce(0, +) >= options.count
        {
            queued = Date().timeIntervalSince(started)
            sentWhenQueued = sink.count
        }
        if Date().timeIntervalSince(started) > 600 {
            throw Failure(description: "only \(sink.count) of \(options.count) e-mails after 10 minutes")
        }
    }
    report(
        "end-to-end", count: options.count, seconds: Date().timeIntervalSince(started), cpu: cpuSeconds() - cpu,
        extra: [
            "concurrency": options.concurrency, "queued_seconds": ((queued ?? 0) * 1000).rounded() / 1000,
            "sent_when_queued": sentWhenQueued,
        ])
    await host.shutdown()
    try await running.value
    let names = ServiceNames(service: service.serviceName, exchange: exchange)
    let topology = ServiceTopology.service(names, consumes: [], retryDelays: service.retryDelays, deliveryLimit: service.deliveryLimit)
        .merging(ServiceTopology.domain(exchange: exchange, archiveMaxAge: "1h"))
    for queue in topology.queues { _ = try? await publisher.delete(queue: queue.name) }
    for exchange in topology.exchanges { _ = try? await publisher.delete(exchange: exchange.name) }
    await publisher.close()

    // The same notifications, from the store, for the other two stages.
    let records = try await host.store.database.read { db in
        try (0..<options.count).flatMap { try NotificationStore.notifications(registrationID: "reg-bench-\($0)", in: db) }
    }
    let renderer = try await Renderer(directory: configuration.templates)
    cpu = cpuSeconds()
    started = Date()
    var rendered: [(Data, String)] = []
    for record in records {
        let output = try renderer.render(record, eventName: nil, eventZone: "Asia/Ho_Chi_Minh")
        let message = MIMEMessage(
            from: configuration.sender, to: .init(name: record.recipient.name, email: record.recipient.email), subject: output.subject,
            text: output.text, html: output.html, messageID: "\(record.id)@bench", date: Date())
        rendered.append((message.rendered(), record.recipient.email))
    }
    report("render-only", count: records.count, seconds: Date().timeIntervalSince(started), cpu: cpuSeconds() - cpu)

    // SMTP alone, over connections kept open (as the service sends) and one per message.
    let sender = configuration.sender.email
    let outgoing = rendered
    let pool = SMTPPool(configuration: configuration.smtp, maxIdle: options.concurrency)
    let client = SMTPClient(configuration: configuration.smtp)
    for (stage, pooled) in [("smtp-only", true), ("smtp-per-connection", false)] {
        let before = sink.count
        cpu = cpuSeconds()
        started = Date()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in 0..<options.concurrency {
                group.addTask {
                    for index in stride(from: lane, to: outgoing.count, by: options.concurrency) {
                        if pooled {
                            try await pool.send(outgoing[index].0, from: sender, to: outgoing[index].1)
                        } else {
                            try await client.send(outgoing[index].0, from: sender, to: outgoing[index].1)
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        report(
            stage, count: sink.count - before, seconds: Date().timeIntervalSince(started), cpu: cpuSeconds() - cpu,
            extra: ["concurrency": options.concurrency])
    }

    try await runWithoutStore(
        options, amqp: amqp, id: id, records: records, renderer: renderer, configuration: configuration, pool: pool, logger: logger)
}

/// The `no-store` stage (see the top of the file).
func runWithoutStore(
    _ options: Options, amqp: AMQPConfiguration, id: String, records: [NotificationRecord], renderer: Renderer,
    configuration: NotificationsConfiguration, pool: SMTPPool, logger: Logger
) async throws {
    let connection = try await AMQPConnection.connect(amqp, logger: logger)
    let input = "bench-\(id)-floor-in"
    let output = "bench-\(id)-floor-out"
    try await connection.declare(Topology(queues: [.quorum(input), .quorum(output)]))
    let byRegistration = Dictionary(records.compactMap { record in record.registrationID.map { ($0, record) } }) { first, _ in first }
    let messages = try (0..<options.count).map { index in
        var message = try OutgoingMessage.domain(accepted(index), exchange: "", appID: "notifications-bench")
        message.routingKey = input
        return message
    }
    let done = SharedCount()
    let refused = SharedCount()
    let sender = configuration.sender
    let cpu = cpuSeconds()
    let started = Date()
    for result in await connection.publish(messages) { try result.get() }
    var consumers: [AMQPConsumer] = []
    for _ in 0..<options.concurrency { consumers.append(try await connection.consume(queue: input, prefetch: 64)) }
    try await withThrowingTaskGroup(of: Void.self) { group in
        for consumer in consumers {
            group.addTask {
                for try await delivery in consumer {
                    let message = try MessageCoding.decode(RegistrationAccepted.self, from: delivery.body)
                    guard let record = byRegistration[message.registrationID] else {
                        throw Failure(description: "no notification for \(message.registrationID)")
                    }
                    let rendered = try renderer.render(record, eventName: nil, eventZone: "Asia/Ho_Chi_Minh")
                    let mime = MIMEMessage(
                        from: sender, to: .init(name: record.recipient.name, email: record.recipient.email),
                        subject: rendered.subject, text: rendered.text, html: rendered.html, messageID: "\(record.id)@bench", date: Date())
                    try await pool.send(mime.rendered(), from: sender.email, to: record.recipient.email)
                    let event = NotificationDelivered(
                        notificationID: record.id, idempotencyKey: record.idempotencyKey, registrationID: record.registrationID,
                        kind: record.kind, channel: .email, language: record.recipient.language, attempts: 1, deliveredAt: Date())
                    var outgoing = try OutgoingMessage.domain(event, exchange: "", appID: "notifications-bench")
                    outgoing.routingKey = output
                    // Acked once the event is confirmed, without holding up the next send.
                    Task {
                        if case .success = await connection.publish([outgoing]).first { delivery.ack() } else { refused.increment() }
                        done.increment()
                    }
                }
            }
        }
        while done.value < options.count {
            try await Task.sleep(for: .milliseconds(5))
            if Date().timeIntervalSince(started) > 600 {
                throw Failure(description: "only \(done.value) of \(options.count) after 10 minutes")
            }
        }
        guard refused.value == 0 else { throw Failure(description: "\(refused.value) events were not confirmed") }
        report(
            "no-store", count: options.count, seconds: Date().timeIntervalSince(started), cpu: cpuSeconds() - cpu,
            extra: ["concurrency": options.concurrency])
        for consumer in consumers { await consumer.cancel() }
    }
    _ = try? await connection.delete(queue: input)
    _ = try? await connection.delete(queue: output)
    await connection.close()
}

/// A count shared between threads (the sink's sessions, the no-store stage's tasks).
final class SharedCount: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    var value: Int { lock.withLock { count } }
    func increment() { lock.withLock { count += 1 } }
}

do {
    try await run(try Options(Array(CommandLine.arguments.dropFirst())))
} catch {
    FileHandle.standardError.write(Data("notifications-bench: \(error)\n".utf8))
    exit(1)
}
