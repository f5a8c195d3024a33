import AMQP
import Foundation
import GRDB
import Logging
import Messages
import ServiceRuntime
import Synchronization
import TestSupport
import Testing
import Tracing

/// Routes whose behaviour the test chooses by the submission's reference:
/// `transient-N` fails transiently on its first N attempts, `permanent` fails permanently,
/// anything else is applied (a row in `applied`) and answered with a `registration.rejected`
/// that carries the reference (just a message to see in the outbox).
struct ScriptedHandler: Sendable {
    static let router: MessageRouter<ScriptedHandler> = {
        var router = MessageRouter<ScriptedHandler>()
        router.on(RegistrationSubmitted.self) { try $0.handle($1, in: $2) }
        router.emits(RegistrationRejected.self)
        return router
    }()

    let delay: Duration

    init(delay: Duration = .zero) { self.delay = delay }

    var dispatcher: Dispatcher { Self.router.dispatcher(for: self) }

    static func migrate(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("scripted-1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE applied (message_id TEXT PRIMARY KEY, reference TEXT NOT NULL, attempt INTEGER NOT NULL,
                        received_at REAL NOT NULL)
                    """)
        }
    }

    func handle(_ message: Message<RegistrationSubmitted>, in db: Database) throws -> [OutboundMessage] {
        let submission = message.payload
        if delay > .zero { Thread.sleep(forTimeInterval: Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18) }
        if submission.reference == "permanent" { throw HandlerFailure.permanent("reference 'permanent' can never be applied") }
        if submission.reference.hasPrefix("transient-"), let failures = Int(submission.reference.dropFirst("transient-".count)),
            message.attempt <= failures
        {
            throw HandlerFailure.transient("attempt \(message.attempt) fails on purpose")
        }
        try db.execute(
            sql: "INSERT INTO applied (message_id, reference, attempt, received_at) VALUES (?, ?, ?, ?)",
            arguments: [message.messageID, submission.reference, message.attempt, message.receivedAt.timeIntervalSince1970])
        return [
            try OutboundMessage(
                RegistrationRejected(
                    eventID: submission.eventID, reference: submission.reference, revision: submission.revision, issues: [],
                    rejectedAt: Date()),
                correlationID: message.correlationID)
        ]
    }
}

@Suite struct PipelineTests {
    static func withHost(
        delay: Duration = .zero, retryDelays: [Double] = [0.3, 0.6], tracer: any Tracer = InstrumentationSystem.tracer,
        logger: Logger = TestBroker.logger, before: (ServiceTestBed) async throws -> Void = { _ in },
        _ body: (ServiceTestBed, ServiceHost) async throws -> Void
    ) async throws {
        let bed = try await ServiceTestBed(service: "pipeline")
        try await before(bed)
        let host = try await ServiceHost(
            configuration: bed.configuration(retryDelays: retryDelays), dispatcher: ScriptedHandler(delay: delay).dispatcher,
            logger: logger,
            migrations: ScriptedHandler.migrate, connectPatience: 5, tracer: tracer)
        let running = Task { try await host.run(signals: []) }
        try await host.waitUntilStarted()
        do {
            try await body(bed, host)
            await host.shutdown()
            try await running.value
        } catch {
            await host.shutdown()
            _ = try? await running.value
            await bed.tearDown(retryQueues: retryDelays.count)
            throw error
        }
        await bed.tearDown(retryQueues: retryDelays.count)
    }

    static func applied(_ host: ServiceHost) async throws -> [(reference: String, attempt: Int)] {
        try await host.store.database.read { db in
            try Row.fetchAll(db, sql: "SELECT reference, attempt FROM applied ORDER BY rowid").map { ($0[0], $0[1]) }
        }
    }

    /// Parked messages by message id; a message parked twice fails the caller's count, it does
    /// not crash the test process.
    static func byMessageID(_ parked: [Delivery]) -> [String: Delivery] {
        Dictionary(parked.map { ($0.properties.messageID ?? "", $0) }, uniquingKeysWith: { first, _ in first })
    }

    static func waitForDeadLetters(_ bed: ServiceTestBed, count: Int) async throws -> [Delivery] {
        var parked: [Delivery] = []
        _ = try await eventually(within: 30) {
            parked += try await bed.drainDeadLetters()
            return parked.count >= count
        }
        return parked
    }

    @Test func aMalformedBodyIsParkedAtOnceWithItsReasonAndTheNextMessageIsProcessed() async throws {
        try await Self.withHost { bed, host in
            try await bed.publishRaw(
                Data("{\"eventID\": \"e1\", \"reference\": ".utf8), type: "registration.submitted", messageID: "broken-json")
            var wrongType =
                try JSONSerialization.jsonObject(with: MessageCoding.encode(Samples.submission(reference: "x"))) as? [String: Any] ?? [:]
            wrongType["delegates"] = [["name": "A", "language": "fr"]]
            try await bed.publishRaw(
                JSONSerialization.data(withJSONObject: wrongType), type: "registration.submitted", messageID: "bad-language")
            try await bed.publishRaw(Data([0x7B, 0xFF, 0xFE, 0x7D]), type: "registration.submitted", messageID: "not-utf8")
            try await bed.publish(Samples.submission(reference: "good"), messageID: "good")

            let parked = try await Self.waitForDeadLetters(bed, count: 3)
            #expect(parked.count == 3)
            let byID = Self.byMessageID(parked)
            #expect(byID["bad-language"]?.headers[FailureHeader.kind]?.stringValue == "invalid-body")
            #expect(byID["bad-language"]?.headers[FailureHeader.reason]?.stringValue?.contains("delegates[0].language") == true)
            #expect(byID["broken-json"]?.headers[FailureHeader.reason]?.stringValue?.contains("not valid JSON") == true)
            #expect(byID["not-utf8"]?.headers[FailureHeader.kind]?.stringValue == "invalid-body")
            #expect(byID["bad-language"]?.headers[FailureHeader.service]?.stringValue == bed.serviceName)
            #expect(byID["bad-language"]?.headers[FailureHeader.attempt]?.intValue == 1)
            #expect(byID["bad-language"]?.headers[FailureHeader.originalRoutingKey]?.stringValue == "registration.submitted")
            #expect(byID["bad-language"]?.headers[FailureHeader.time]?.dateValue != nil)
            #expect(byID["bad-language"]?.properties.type == "registration.submitted", "the original properties are kept")
            #expect(try await eventually(within: 30) { try await Self.applied(host).map(\.reference) == ["good"] })
        }
    }

    @Test func anUnsupportedSchemaVersionOrTypeIsParkedWithAClearReason() async throws {
        try await Self.withHost { bed, host in
            try await bed.publish(Samples.submission(reference: "v2"), messageID: "v2", headers: ["schema-version": "2.0"])
            // A type this service does not consume, sent straight to its inbox.
            try await bed.connection.publish(
                Data("{}".utf8), exchange: "", routingKey: bed.names.inbox,
                properties: MessageProperties(contentType: "application/json", messageID: "stray", type: "itinerary.planned"))
            try await bed.publish(Samples.submission(reference: "v1"), messageID: "v1", headers: ["schema-version": "1.3"])
            let parked = try await Self.waitForDeadLetters(bed, count: 2)
            // Each parked once (a second copy would fail here, not crash the test process).
            #expect(parked.map { $0.properties.messageID ?? "" }.sorted() == ["stray", "v2"])
            let byID = Self.byMessageID(parked)
            #expect(byID["v2"]?.headers[FailureHeader.kind]?.stringValue == "unsupported-version")
            #expect(byID["v2"]?.headers[FailureHeader.reason]?.stringValue?.contains("2.0") == true)
            #expect(byID["stray"]?.headers[FailureHeader.kind]?.stringValue == "unexpected-type")
            #expect(
                try await eventually(within: 30) { try await Self.applied(host).map(\.reference) == ["v1"] },
                "a newer minor version is read")
        }
    }

    @Test func theRoutingKeyNotTheSendersPropertiesSaysWhatAMessageIsAndWhichAttempt() async throws {
        try await Self.withHost { bed, host in
            func send(_ reference: String, id: String, type: String? = nil, headers: AMQPTable = [:]) async throws {
                try await bed.connection.publish(
                    MessageCoding.encode(Samples.submission(reference: reference)), exchange: bed.exchange,
                    routingKey: "registration.submitted",
                    properties: MessageProperties(contentType: "application/json", headers: headers, messageID: id, type: type),
                    mandatory: true)
            }
            // An integration may publish only `registration.submitted` (the broker checks the
            // routing key): a `type` property naming another type must not choose the handler.
            try await send("spoofed", id: "spoofed", type: "registration.erase-requested")
            try await send("by-key", id: "by-key", headers: [FailureHeader.originalRoutingKey: .string("registration.erase-requested")])
            // A sender's attempt counter neither skips the retries nor names a delay queue.
            try await send("transient-1", id: "attempt-99", headers: [FailureHeader.retryAttempt: .int64(99)])
            try await send("transient-1", id: "attempt-0", headers: [FailureHeader.retryAttempt: .int64(0)])
            // A type nobody knows, straight to the inbox: parked, and no metric series of its own.
            try await bed.connection.publish(
                Data("{}".utf8), exchange: "", routingKey: bed.names.inbox,
                properties: MessageProperties(contentType: "application/json", messageID: "made-up", type: "made.up-type-4711"))

            let parked = Self.byMessageID(try await Self.waitForDeadLetters(bed, count: 2))
            #expect(parked.keys.sorted() == ["made-up", "spoofed"])
            #expect(parked["spoofed"]?.headers[FailureHeader.kind]?.stringValue == "unexpected-type")
            #expect(parked["spoofed"]?.headers[FailureHeader.reason]?.stringValue?.contains("routing key 'registration.submitted'") == true)
            #expect(parked["spoofed"]?.properties.type == "registration.submitted", "the copy names the type the service read")
            #expect(try await eventually(within: 30) { try await Self.applied(host).count == 3 })
            let applied = try await Self.applied(host)
            #expect(applied.filter { $0.reference == "by-key" }.map(\.attempt) == [1])
            #expect(applied.filter { $0.reference == "transient-1" }.map(\.attempt) == [2, 2], "each failed once, then came back")
            let metrics = host.metrics.render()
            #expect(!metrics.contains("made.up-type-4711"))
            #expect(metrics.contains("messages_dead_lettered_total{service=\"\(bed.serviceName)\",type=\"unknown\""))
        }
    }

    @Test func theSameMessageDeliveredTwiceIsAppliedOnce() async throws {
        try await Self.withHost { bed, host in
            let submission = Samples.submission(reference: "twice")
            try await bed.publish(submission, messageID: "same-id")
            try await bed.publish(submission, messageID: "same-id")
            // Without a message id, the same body is the same message.
            let body = try MessageCoding.encode(Samples.submission(reference: "no-id"))
            try await bed.publishRaw(body, type: "registration.submitted", messageID: nil)
            try await bed.publishRaw(body, type: "registration.submitted", messageID: nil)
            try await bed.publish(Samples.submission(reference: "marker"))
            #expect(try await eventually(within: 30) { try await Self.applied(host).map(\.reference).contains("marker") })
            let applied = try await Self.applied(host).map(\.reference)
            #expect(applied.filter { $0 == "twice" }.count == 1)
            #expect(applied.filter { $0 == "no-id" }.count == 1)
            let outputs = await bed.waitFor(RegistrationRejected.self, count: 3)
            try await Task.sleep(for: .milliseconds(300))
            #expect(bed.seen(RegistrationRejected.self).count == 3, "one outgoing message per applied message: \(outputs.map(\.reference))")
        }
    }

    @Test func aTransientFailureComesBackAfterTheDelaysAndSucceeds() async throws {
        try await Self.withHost { bed, host in
            let started = Date()
            try await bed.publish(Samples.submission(reference: "transient-2"), messageID: "flaky")
            #expect(try await eventually(within: 30) { try await Self.applied(host).map(\.reference) == ["transient-2"] })
            let elapsed = Date().timeIntervalSince(started)
            #expect(try await Self.applied(host).first?.attempt == 3)
            #expect(elapsed >= 0.3 + 0.6, "waited for both delay queues (took \(elapsed) s)")
            // The third attempt still knows when the message first came in: before both delays.
            let received = try await host.store.database.read { db in try Double.fetchOne(db, sql: "SELECT received_at FROM applied") } ?? 0
            let observed = Date().timeIntervalSince1970
            #expect(
                received >= started.timeIntervalSince1970 - 1 && received <= observed - 0.9,
                "received \(received - started.timeIntervalSince1970) s after publishing")
            let metrics = host.metrics.render()
            #expect(metrics.contains("messages_retried_total{service=\"\(bed.serviceName)\",type=\"registration.submitted\"} 2"))
        }
    }

    @Test func afterTheLastRetryOrOnAPermanentFailureTheMessageIsParked() async throws {
        try await Self.withHost { bed, host in
            try await bed.publish(Samples.submission(reference: "transient-9"), messageID: "hopeless")
            try await bed.publish(Samples.submission(reference: "permanent"), messageID: "doomed")
            let parked = try await Self.waitForDeadLetters(bed, count: 2)
            // Each parked once (a second copy would fail here, not crash the test process).
            #expect(parked.map { $0.properties.messageID ?? "" }.sorted() == ["doomed", "hopeless"])
            let byID = Self.byMessageID(parked)
            #expect(byID["hopeless"]?.headers[FailureHeader.kind]?.stringValue == "retries-exhausted")
            #expect(byID["hopeless"]?.headers[FailureHeader.attempt]?.intValue == 3)
            #expect(byID["hopeless"]?.headers[FailureHeader.reason]?.stringValue?.contains("attempt 3 fails on purpose") == true)
            #expect(byID["doomed"]?.headers[FailureHeader.kind]?.stringValue == "permanent")
            #expect(byID["doomed"]?.headers[FailureHeader.attempt]?.intValue == 1, "a permanent failure is not retried")
            #expect(try await Self.applied(host).isEmpty)
        }
    }

    @Test func outboxRowsLeftByACrashArePublishedOnStart() async throws {
        try await Self.withHost(before: { bed in
            // A previous run committed these and died before publishing them.
            let store = try ServiceStore(path: bed.storePath, synchronous: .normal, migrations: ScriptedHandler.migrate)
            let pending = try (0..<5).map { n in
                try OutboundMessage(
                    RegistrationRejected(eventID: "e", reference: "left-\(n)", revision: 1, issues: [], rejectedAt: Date()),
                    correlationID: nil)
            }
            try await store.database.write { db in try Outbox.append(pending, causedBy: "crashed-run", service: bed.serviceName, in: db) }
        }) { bed, host in
            let seen = await bed.waitFor(RegistrationRejected.self, count: 5)
            #expect(Set(seen.compactMap(\.reference)) == Set((0..<5).map { "left-\($0)" }))
            #expect(try await eventually(within: 30) { try await host.store.outboxBacklog() == 0 })
            let delivery = try #require(bed.deliveries(ofType: .registrationRejected).first)
            #expect(delivery.properties.appID == bed.serviceName)
            #expect(delivery.properties.deliveryMode == .persistent)
            #expect(delivery.headers["schema-version"]?.stringValue == SchemaVersion.current)
            #expect(delivery.properties.messageID?.hasPrefix("\(bed.serviceName)-") == true)
        }
    }

    @Test func gracefulShutdownFinishesWhatIsInFlightAndLosesNothing() async throws {
        let bed = try await ServiceTestBed(service: "pipeline")
        let configuration = bed.configuration()
        try await bed.connection.declare(
            ServiceTopology.service(
                bed.names, consumes: [.registrationSubmitted], retryDelays: configuration.retryDelays,
                deliveryLimit: configuration.deliveryLimit))
        let count = 60
        for n in 0..<count { try await bed.publish(Samples.submission(reference: "m\(n)"), messageID: "m\(n)") }
        var applied: [String] = []
        for round in 0..<3 {
            let host = try await ServiceHost(
                configuration: bed.configuration(), dispatcher: ScriptedHandler(delay: .milliseconds(20)).dispatcher,
                logger: TestBroker.logger,
                migrations: ScriptedHandler.migrate, connectPatience: 5)
            let running = Task { try await host.run(signals: []) }
            try await host.waitUntilStarted()
            _ = try await eventually(within: 30) { try await Self.applied(host).count >= min(count, (round + 1) * 20) }
            await host.shutdown()
            try await running.value
            applied = try await Self.applied(host).map(\.reference)
            if applied.count == count { break }
        }
        #expect(applied.count == count)
        #expect(Set(applied).count == count, "each message applied exactly once")
        #expect(try await bed.connection.queueState(bed.names.inbox).messageCount == 0)
        await bed.tearDown()
    }
}
