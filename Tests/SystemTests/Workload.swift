import AMQP
import Foundation
import GRDB
import Messages
import ServiceCatalog
import ServiceRuntime
import TestSupport
import Testing

/// A steady stream for the whole system (a programme, submissions, amendments, cancellations and
/// optionally poison), published while faults are injected, then the counts that prove nothing
/// was lost or doubled: from the stores, the SMTP server and the dead-letter queues.
struct Workload {
    let total: Int
    private(set) var stream: [OutgoingMessage] = []
    private(set) var poison: [String] = []
    private(set) var cancelled = Set<String>()
    let amended: Set<String>

    /// `total` submissions for an event with room for five in six; every fourth amended, every
    /// sixth cancelled; with `poison`, every twentieth followed by a poison message of each kind
    /// in turn.
    init(total: Int, poison withPoison: Bool) throws {
        self.total = total
        amended = Set(stride(from: 0, to: total - 3, by: 4).map { "s-\($0)" })
        func domain<T: MessagePayload>(_ payload: T, id: String) throws -> OutgoingMessage {
            try OutgoingMessage.domain(payload, exchange: "delegation", messageID: id, appID: "system-test")
        }
        stream.append(try domain(Samples.programme(organisations: total * 5 / 6, delegates: total * 10), id: "programme-1"))
        for index in 0..<total {
            stream.append(try domain(Samples.submission(reference: "s-\(index)", delegates: 2), id: "submit-\(index)"))
            if index % 4 == 3 {  // an amendment of an earlier one
                stream.append(
                    try domain(Samples.submission(reference: "s-\(index - 3)", revision: 2, delegates: 1), id: "amend-\(index - 3)"))
            }
            if index % 6 == 5 {  // a cancellation of an earlier one
                cancelled.insert("s-\(index - 5)")
                stream.append(
                    try domain(
                        RegistrationCancelRequested(eventID: "danang-2026-01", reference: "s-\(index - 5)", reason: "plans changed"),
                        id: "cancel-\(index - 5)"))
            }
            if withPoison && index % 20 == 10 {  // poison, of every kind in turn
                let id = "poison-\(index)"
                poison.append(id)
                var message = OutgoingMessage.domain(
                    type: "registration.submitted", body: Data("{\"broken\": ".utf8), exchange: "delegation", messageID: id,
                    appID: "system-test")
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
    }

    var summary: String {
        "\(stream.count) messages (\(total) submissions, \(amended.count) amendments, "
            + "\(cancelled.count) cancellations, \(poison.count) poison)"
    }

    /// The whole proof on the broker (or cluster) at `url`: starts the three services and a
    /// publisher (`settings` over `RunningSystem`'s), publishes the stream while injecting
    /// `faults`, waits until everything settles,
    /// counts, lets `afterwards` check more, writes the figures to `.run/<name>-figures.txt` and
    /// stops the services.
    func prove(
        on url: String, name: String, kills: Int, parkingFaults: Int = 0, settings: [String: String] = [:],
        faults: (RunningSystem) -> [Int: (String, @Sendable () async throws -> Void)], afterwards: (RunningSystem) -> Void = { _ in }
    ) async throws {
        let smtp = try await SMTPTestServer()
        let system = try RunningSystem(amqpURL: url, smtpPort: smtp.port)
        system.environment.merge(settings) { $1 }
        defer {
            smtp.stop()
            system.removeFiles()
        }
        var amqp = try AMQPConfiguration(url: url)
        amqp.connectionName = "\(name) publisher"
        amqp.recovery.maxDelay = 1
        let publisher = try await AMQPConnection.connect(amqp, logger: TestBroker.logger)
        // The services' queues and bindings exist before the first message (as `delegation-ops
        // topology apply` makes them in production): a queue that exists is not yet bound.
        for service in SystemServices.all { try await system.declareQueues(of: service.name, on: publisher) }
        for service in SystemServices.all { try system.start(service.name) }

        let injected = try await run(on: publisher, faults: faults(system))
        let (settled, last) = await Self.settle(system, smtp, publisher)
        #expect(settled, "the system did not settle: \(last)")
        for (instance, process) in system.processes {
            #expect(process.isRunning, "\(instance) exited: \(process.log.suffix(2000))")
        }
        let counts = try await verify(system, smtp, publisher, kills: kills, parkingFaults: parkingFaults)
        afterwards(system)

        let figures = "\(name.replacingOccurrences(of: "-", with: " ")): \(summary); faults: \(injected.joined(separator: "; ")); \(counts)"
        print(figures)
        try figures.write(toFile: "\(TestBroker.root)/.run/\(name)-figures.txt", atomically: true, encoding: .utf8)
        await publisher.close()
        await system.stopAll()
    }

    /// Publishes until confirmed, through losses and broker restarts (same message id: the
    /// services drop a copy).
    static func publish(_ message: OutgoingMessage, on connection: AMQPConnection) async {
        while true {
            do {
                try await connection.publish(
                    message.body, exchange: message.exchange, routingKey: message.routingKey, properties: message.properties,
                    mandatory: false)
                return
            } catch {
                try? await Task.sleep(for: .milliseconds(300))
            }
        }
    }

    /// Publishes the stream at a steady pace, running `faults[position]` before the message at
    /// that position; returns the names of the faults injected.
    func run(on publisher: AMQPConnection, faults: [Int: (String, @Sendable () async throws -> Void)]) async throws -> [String] {
        var injected: [String] = []
        for (position, message) in stream.enumerated() {
            if let (name, fault) = faults[position] {
                injected.append(name)
                try await fault()
            }
            await Self.publish(message, on: publisher)
            if position % 25 == 0 { try await Task.sleep(for: .milliseconds(60)) }
        }
        return injected
    }

    /// Waits until the queues are empty, nothing is pending and the counts stay put.
    static func settle(_ system: RunningSystem, _ smtp: SMTPTestServer, _ publisher: AMQPConnection) async -> (settled: Bool, last: String)
    {
        await RunningSystem.settle(within: 300) {
            var depth = 0
            for service in ["registrations", "itineraries", "notifications"] {
                depth += (try? await publisher.queueState("\(service).inbox").messageCount) ?? 1
                for attempt in 1...3 { depth += (try? await publisher.queueState("\(service).retry.\(attempt)").messageCount) ?? 0 }
            }
            let pending =
                (try? system.read("notifications") { db in
                    try Int.fetchOne(db, sql: "SELECT count(*) FROM notifications WHERE status IN ('pending', 'sending')") ?? 0
                }) ?? 1
            // The planner works outside the pipeline: inputs it has not planned yet are work left.
            let unplanned =
                (try? system.read("itineraries") { db in
                    try Int.fetchOne(db, sql: "SELECT count(*) FROM plan_inputs WHERE generation > planned_generation") ?? 0
                }) ?? 1
            return (depth == 0 && pending == 0 && unplanned == 0, "\(depth) \(pending) \(unplanned) \(smtp.messages.count)")
        }
    }

    /// Counts and checks; `kills` bounds the e-mails a kill between the relay's 250 and the
    /// local commit may send twice, `parkingFaults` the poison a fault may park twice (kills of
    /// registrations, dropped connections).
    func verify(_ system: RunningSystem, _ smtp: SMTPTestServer, _ publisher: AMQPConnection, kills: Int, parkingFaults: Int) async throws
        -> String
    {
        // Every valid registration in exactly one final state.
        let registrations = try system.read("registrations") { db in
            try Row.fetchAll(db, sql: "SELECT reference, status, revision FROM registrations").map {
                (reference: $0[0] as String, status: $0[1] as String, revision: $0[2] as Int)
            }
        }
        let references = Set((0..<total).map { "s-\($0)" })
        let lostRegistrations = references.subtracting(registrations.map(\.reference)).count
        #expect(registrations.count == total, "one row per registration")
        #expect(lostRegistrations == 0)
        #expect(registrations.filter { $0.status == "cancelled" }.count == cancelled.count)
        #expect(registrations.filter { cancelled.contains($0.reference) }.allSatisfy { $0.status == "cancelled" })
        #expect(
            registrations.filter { !cancelled.contains($0.reference) }.allSatisfy { $0.status == "accepted" || $0.status == "waitlisted" })
        #expect(
            registrations.filter { amended.contains($0.reference) && !cancelled.contains($0.reference) }.allSatisfy { $0.revision == 2 })

        // Every accepted delegation has its latest itinerary; every notification went once.
        let accepted = registrations.filter { $0.status == "accepted" }.map {
            registrationID(eventID: "danang-2026-01", reference: $0.reference)
        }
        let planned = try system.read("itineraries") { db in
            try Row.fetchAll(db, sql: "SELECT registration_id FROM itineraries WHERE items != '[]'").map { $0[0] as String }
        }
        #expect(!accepted.isEmpty)
        let withoutItinerary = Set(accepted).subtracting(planned).count
        #expect(withoutItinerary == 0, "accepted without an itinerary")
        let notifications = try system.read("notifications") { db in
            try Row.fetchAll(db, sql: "SELECT id, kind, status FROM notifications").map {
                (id: $0[0] as String, kind: $0[1] as String, status: $0[2] as String)
            }
        }
        #expect(
            notifications.allSatisfy { $0.status == "sent" || $0.status == "cancelled" },
            "\(Dictionary(grouping: notifications, by: \.status).mapValues(\.count))")
        let sent = notifications.filter { $0.status == "sent" }
        let received = RunningSystem.receivedMessageIDs(smtp)
        let lost = sent.filter { received[$0.id] == nil }.count
        let duplicated = received.values.reduce(0) { $0 + max(0, $1 - 1) }
        #expect(lost == 0, "sent but never received")
        #expect(Set(received.keys) == Set(sent.map(\.id)), "nothing received that was not recorded as sent")
        // A kill between the relay's 250 and the local commit can send one e-mail twice (same
        // Message-ID, so mail clients show one): at most what a worker holds claimed and not
        // yet recorded, twice the sends in flight (NOTIFICATIONS_CONCURRENCY, 4), per kill.
        #expect(duplicated <= kills * 2 * 4, "duplicated: \(duplicated)")

        // Every poison message parked with its reason, and nothing else parked anywhere. Parking
        // is recorded in the store, so a redelivery after a kill is not parked again; what is
        // left is the moment between the broker's confirm of the copy and the local record of
        // it, and a copy the broker had when a connection dropped before its confirm: at most
        // the copies of one batch (two poison messages at most) per such fault.
        var parked: [String: String] = [:]
        var parkedCopies = 0
        for service in ["registrations", "itineraries", "notifications"] {
            while let (delivery, _) = try await publisher.get(queue: "\(service).dead-letters") {
                parked[delivery.properties.messageID ?? "?"] = delivery.headers[FailureHeader.reason]?.stringValue ?? "(no reason)"
                parkedCopies += 1
                delivery.ack()
            }
        }
        #expect(Set(parked.keys) == Set(poison), "parked and not poison: \(parked.filter { !poison.contains($0.key) })")
        #expect(parked.values.allSatisfy { !$0.isEmpty && $0 != "(no reason)" })
        #expect(parkedCopies - parked.count <= 2 * parkingFaults, "poison parked twice: \(parkedCopies - parked.count)")
        return
            "registrations lost \(lostRegistrations) of \(total); itineraries planned for \(accepted.count) accepted; "
            + "notifications sent \(sent.count), received \(received.values.reduce(0, +)), lost \(lost), duplicated \(duplicated); "
            + "poison parked \(parked.count) of \(poison.count), \(parkedCopies - parked.count) parked twice"
    }
}
