import AMQP
import Foundation
import GRDB
import Messages
import ServiceRuntime
import Testing
import TestSupport

/// The three services as processes on a broker of their own, under a stream of registrations,
/// amendments, cancellations and poison messages, while each service is killed (-9) and
/// restarted, the broker's connections are closed, and the broker itself is stopped and
/// started. Then everything is counted from the stores, the dead-letter queues and the SMTP
/// server.
@Suite(.serialized) struct FaultToleranceTests {
    /// A second private broker (its own ports, node and folder), so that stopping it does not
    /// disturb the other tests.
    struct FaultBroker {
        static let port = 5693
        static var environment: [String: String] {
            var environment = ProcessInfo.processInfo.environment
            environment["DELEGATION_BROKER_PORT"] = String(port)
            environment["DELEGATION_BROKER_TLS_PORT"] = "0"
            environment["DELEGATION_BROKER_DIST_PORT"] = "25693"
            environment["DELEGATION_BROKER_EPMD_PORT"] = "4390"
            environment["DELEGATION_BROKER_NODE"] = "faults@localhost"
            environment["DELEGATION_BROKER_DIR"] = "\(TestBroker.root)/.run/broker-faults"
            return environment
        }
        static var url: String { "amqp://guest:guest@127.0.0.1:\(port)/" }

        static func run(_ arguments: [String]) async throws -> String {
            try await TestBroker.run("/usr/bin/env", environment.filter { $0.key.hasPrefix("DELEGATION_BROKER_") }.map { "\($0.key)=\($0.value)" }.sorted()
                + ["\(TestBroker.root)/deploy/broker"] + arguments)
        }
    }

    /// Publishes until confirmed, through losses and broker restarts (same message id: the
    /// services drop a copy).
    static func publish(_ message: OutgoingMessage, on connection: AMQPConnection) async {
        while true {
            do {
                try await connection.publish(message.body, exchange: message.exchange, routingKey: message.routingKey, properties: message.properties, mandatory: false)
                return
            } catch {
                try? await Task.sleep(for: .milliseconds(300))
            }
        }
    }

    @Test func faultsDuringAStreamLoseNothingAndDoubleNothing() async throws {
        _ = try? await FaultBroker.run(["stop"])
        try? FileManager.default.removeItem(atPath: FaultBroker.environment["DELEGATION_BROKER_DIR"] ?? "")
        _ = try await FaultBroker.run(["start"])
        let smtp = try await SMTPTestServer()
        let system = try RunningSystem(amqpURL: FaultBroker.url, smtpPort: smtp.port)
        defer {
            smtp.stop()
            system.removeFiles()
        }
        for service in ["registrations", "itineraries", "notifications"] { try system.start(service) }

        var amqp = try AMQPConfiguration(url: FaultBroker.url)
        amqp.connectionName = "fault test publisher"
        amqp.recovery.maxDelay = 1
        let publisher = try await AMQPConnection.connect(amqp, logger: TestBroker.logger)
        func domain<T: MessagePayload>(_ payload: T, id: String) throws -> OutgoingMessage {
            try OutgoingMessage.domain(payload, exchange: "delegation", messageID: id, appID: "fault-test")
        }
        // Wait until the services have declared their queues.
        let declared = await eventually(within: 60) {
            for service in ["registrations", "itineraries", "notifications"] where !((try? await publisher.queueExists("\(service).inbox")) ?? false) {
                return false
            }
            return true
        }
        #expect(declared)

        // The stream: a programme with room for 500 of 600 delegations, amendments, cancellations
        // and poison, in a steady order; faults injected as it goes.
        let total = 600
        var stream: [OutgoingMessage] = [try domain(Samples.programme(organisations: 500, delegates: 5000), id: "programme-1")]
        var poison: [String] = []
        var cancelled = Set<String>()
        for index in 0..<total {
            stream.append(try domain(Samples.submission(reference: "s-\(index)", delegates: 2), id: "submit-\(index)"))
            if index % 4 == 3 {  // an amendment of an earlier one
                stream.append(try domain(Samples.submission(reference: "s-\(index - 3)", revision: 2, delegates: 1), id: "amend-\(index - 3)"))
            }
            if index % 6 == 5 {  // a cancellation of an earlier one
                cancelled.insert("s-\(index - 5)")
                stream.append(try domain(RegistrationCancelRequested(eventID: "danang-2026-01", reference: "s-\(index - 5)", reason: "plans changed"), id: "cancel-\(index - 5)"))
            }
            if index % 20 == 10 {  // poison, of every kind in turn
                let id = "poison-\(index)"
                poison.append(id)
                var message = OutgoingMessage.domain(type: "registration.submitted", body: Data("{\"broken\": ".utf8), exchange: "delegation", messageID: id, appID: "fault-test")
                switch (index / 20) % 5 {
                case 0: break  // malformed JSON
                case 1: message.body = try MessageCoding.encode(Samples.programme())  // the wrong type's body
                case 2: message.body = Data(repeating: UInt8(ascii: "a"), count: 2_000_000)  // huge and not JSON
                case 3: message.body = Data([0x7B, 0x22, 0xFF, 0xFE, 0x22, 0x7D])  // invalid UTF-8
                default:
                    message.body = try MessageCoding.encode(Samples.submission(reference: "v9-\(index)"))
                    message.properties.headers = ["schema-version": "9.0"]  // an unknown major version
                }
                stream.append(message)
            }
        }
        let faults: [Int: (String, @Sendable () async throws -> Void)] = [
            stream.count / 8: ("kill -9 registrations", { try await system.restart("registrations") }),
            stream.count * 2 / 8: ("kill -9 itineraries", { try await system.restart("itineraries") }),
            stream.count * 3 / 8: ("kill -9 notifications", { try await system.restart("notifications") }),
            stream.count * 4 / 8: ("close every broker connection", { _ = try await FaultBroker.run(["ctl", "close_all_connections", "fault test"]) }),
            stream.count * 5 / 8: ("stop and start the broker", { _ = try await FaultBroker.run(["stop"]); _ = try await FaultBroker.run(["start"]) }),
            stream.count * 6 / 8: ("kill -9 registrations again", { try await system.restart("registrations") }),
            stream.count * 7 / 8: ("kill -9 notifications again", { try await system.restart("notifications") }),
        ]
        var injected: [String] = []
        for (position, message) in stream.enumerated() {
            if let (name, fault) = faults[position] {
                injected.append(name)
                try await fault()
            }
            await Self.publish(message, on: publisher)
            if position % 25 == 0 { try await Task.sleep(for: .milliseconds(60)) }
        }

        // Settled: all inboxes empty, nothing pending, the same counts twice in a row.
        let (settled, last) = await RunningSystem.settle(within: 300) {
            var depth = 0
            for service in ["registrations", "itineraries", "notifications"] {
                depth += (try? await publisher.queueState("\(service).inbox").messageCount) ?? 1
                depth += (try? await publisher.queueState("\(service).retry.1").messageCount) ?? 0
                depth += (try? await publisher.queueState("\(service).retry.2").messageCount) ?? 0
            }
            let pending = (try? system.read("notifications") { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM notifications WHERE status IN ('pending', 'sending')") ?? 0 }) ?? 1
            return (depth == 0 && pending == 0, "\(depth) \(pending) \(smtp.messages.count)")
        }
        #expect(settled, "the system did not settle: \(last)")

        // Every valid registration in exactly one final state.
        let registrations = try system.read("registrations") { db in
            try Row.fetchAll(db, sql: "SELECT reference, status, revision FROM registrations").map { (reference: $0[0] as String, status: $0[1] as String, revision: $0[2] as Int) }
        }
        let references = Set((0..<total).map { "s-\($0)" })
        #expect(registrations.count == total, "one row per registration")
        #expect(Set(registrations.map(\.reference)) == references, "lost: \(references.subtracting(registrations.map(\.reference)).count)")
        #expect(registrations.filter { $0.status == "cancelled" }.count == cancelled.count)
        #expect(registrations.filter { cancelled.contains($0.reference) }.allSatisfy { $0.status == "cancelled" })
        #expect(registrations.filter { !cancelled.contains($0.reference) }.allSatisfy { $0.status == "accepted" || $0.status == "waitlisted" })
        let amended = Set(stride(from: 0, to: total - 3, by: 4).map { "s-\($0)" })
        #expect(registrations.filter { amended.contains($0.reference) && !cancelled.contains($0.reference) }.allSatisfy { $0.revision == 2 })

        // Every accepted delegation's lead was told its latest itinerary; every notification went once.
        let accepted = Set(registrations.filter { $0.status == "accepted" }.map(\.reference))
        let notifications = try system.read("notifications") { db in
            try Row.fetchAll(db, sql: "SELECT id, kind, status, registration_id FROM notifications").map { (id: $0[0] as String, kind: $0[1] as String, status: $0[2] as String) }
        }
        #expect(notifications.allSatisfy { $0.status == "sent" || $0.status == "cancelled" }, "\(Dictionary(grouping: notifications, by: \.status).mapValues(\.count))")
        let sent = notifications.filter { $0.status == "sent" }
        let received = RunningSystem.receivedMessageIDs(smtp)
        let lost = sent.filter { received[$0.id] == nil }.count
        let duplicated = received.values.reduce(0) { $0 + max(0, $1 - 1) }
        #expect(lost == 0, "sent but never received")
        #expect(Set(received.keys) == Set(sent.map(\.id)), "nothing received that was not recorded as sent")
        // A kill between the relay's 250 and the local commit can send one e-mail twice (same
        // Message-ID, so mail clients show one); at most the sends in flight per kill.
        #expect(duplicated <= 3 * 4, "duplicated: \(duplicated)")
        #expect(!accepted.isEmpty)

        // Every poison message parked with its reason, and nothing else parked anywhere.
        var parked: [String: String] = [:]
        for service in ["registrations", "itineraries", "notifications"] {
            while let (delivery, _) = try await publisher.get(queue: "\(service).dead-letters") {
                parked[delivery.properties.messageID ?? "?"] = delivery.headers[FailureHeader.reason]?.stringValue ?? "(no reason)"
                delivery.ack()
            }
        }
        #expect(Set(parked.keys) == Set(poison), "parked: \(parked.keys.sorted())")
        #expect(parked.values.allSatisfy { !$0.isEmpty && $0 != "(no reason)" })

        let figures = """
            fault test: \(stream.count) messages published (\(total) submissions, \(amended.count) amendments, \(cancelled.count) cancellations, \
            \(poison.count) poison); faults: \(injected.joined(separator: "; ")); registrations lost 0 of \(total); \
            notifications sent \(sent.count), received \(received.values.reduce(0, +)), lost \(lost), duplicated \(duplicated); \
            poison parked \(parked.count) of \(poison.count)
            """
        print(figures)
        try figures.write(toFile: "\(TestBroker.root)/.run/fault-test-figures.txt", atomically: true, encoding: .utf8)

        await publisher.close()
        await system.stopAll()
        _ = try? await FaultBroker.run(["stop"])
    }
}
