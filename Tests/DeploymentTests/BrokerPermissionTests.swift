import AMQP
import Foundation
import Messages
import ServiceRuntime
import TestSupport
import Testing

/// The definitions on a real broker: every user can do what its code does and is refused
/// (ACCESS_REFUSED) the rest; then the real `registrations` executable runs with nothing but its
/// own user, the compose health check finds it ready, and `delegation-ops` applies and verifies
/// the topology with its user.
@Suite struct BrokerPermissionTests {
    @Test func eachUserCanDoWhatItsCodeDoesAndIsRefusedTheRest() async throws {
        try await BrokerDeployment.run { deployment in
            // rabbitmqctl is slow (an Erlang VM per call): its two uses run alongside the rest.
            async let passwordSet: Void = deployment.setPasswordWithScript()  // the integration user's
            try await Self.forEachService { try await Self.serviceRunsItsOwnTopology($0, deployment) }
            async let policiesChecked: Void = Self.policiesApply(deployment)  // once the queues exist
            try await Self.forEachService { try await Self.serviceIsRefusedWhatIsNotItsOwn($0, deployment) }
            try await passwordSet
            try await Self.integrationOnlyPublishesItsTwoTypes(deployment)
            try await Self.opsAppliesTopologyAndHandlesFailedMessages(deployment)
            try await Self.registrationsExecutableRunsWithItsOwnUser(deployment)
            try await policiesChecked
        }
    }

    // MARK: Services

    /// Declares what ServiceHost declares, publishes as the outbox and the pipeline do, and
    /// consumes its inbox, which the ops user feeds through the default exchange.
    static func serviceRunsItsOwnTopology(_ service: Deployment.Service, _ deployment: BrokerDeployment) async throws {
        let (domain, own, names) = try BrokerDefinitionsTests.topologies(service)
        let connection = try await deployment.connect(as: service.name)
        try await connection.declare(domain)
        try await connection.declare(own)

        let marker = "\(service.name)-\(deployment.id)"
        for type in try service.emits().sorted(by: { $0.rawValue < $1.rawValue }) {
            try await connection.publish(
                Data(marker.utf8), exchange: names.exchange, routingKey: type.rawValue, properties: properties(type), mandatory: true)
        }
        // A permanent failure's copy goes to the dead-letter exchange, a retry's to the first
        // delay queue through the default exchange; the queue's TTL returns it to the inbox.
        try await connection.publish(Data("parked \(marker)".utf8), exchange: names.deadLetterExchange, routingKey: "any", mandatory: true)
        try await connection.publish(Data("retried \(marker)".utf8), exchange: "", routingKey: names.retryQueue(1), mandatory: true)

        let ops = try await deployment.connect(as: "delegation-ops")
        try await ops.publish(Data("replayed \(marker)".utf8), exchange: "", routingKey: names.inbox, mandatory: true)
        let parked = try #require(try await ops.get(queue: names.deadLetterQueue), "the ops user reads \(names.deadLetterQueue)")
        parked.delivery.ack()
        #expect(String(decoding: parked.delivery.body, as: UTF8.self) == "parked \(marker)")
        await ops.close()

        let inbox = Collector(try await connection.consume(queue: names.inbox, prefetch: 50), autoAck: true)
        let bodies = { Set(inbox.deliveries.map { String(decoding: $0.body, as: UTF8.self) }) }
        _ = await eventually(within: 10) { bodies().isSuperset(of: ["replayed \(marker)", "retried \(marker)"]) }
        #expect(
            bodies().isSuperset(of: ["replayed \(marker)", "retried \(marker)"]),
            "\(names.inbox) got the replayed and the retried message: \(bodies())")
        inbox.stop()
        await connection.close()
    }

    static func policiesApply(_ deployment: BrokerDeployment) async throws {
        // Policies are imported last (in the background): wait for them if need be.
        var policies: [String: String] = [:]
        _ = try await eventually(within: 30) {
            let listing = try await TestBroker.ctl("list_queues", "-p", deployment.vhost, "name", "policy", "--silent")
            policies = Dictionary(
                listing.split(separator: "\n").map { line -> (String, String) in
                    let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
                    return (fields[0], fields.count > 1 ? fields[1] : "")
                }, uniquingKeysWith: { first, _ in first })
            return policies["delegation.archive"] == "delegation-archive"
                && Deployment.services.allSatisfy {
                    policies["\($0.name).inbox"] == "delegation-inboxes" && policies["\($0.name).retry.1"] == "delegation-retries"
                }
        }
        #expect(policies["delegation.archive"] == "delegation-archive")
        for service in Deployment.services {
            #expect(policies["\(service.name).inbox"] == "delegation-inboxes")
            #expect(
                policies["\(service.name).retry.1"] == "delegation-retries" && policies["\(service.name).retry.4"] == "delegation-retries")
            #expect(policies["\(service.name).dead-letters"] == "")
        }
    }

    static func serviceIsRefusedWhatIsNotItsOwn(_ service: Deployment.Service, _ deployment: BrokerDeployment) async throws {
        let (_, _, names) = try BrokerDefinitionsTests.topologies(service)
        let otherService = try #require(Deployment.services.first { $0.name != service.name })
        let (_, otherTopology, other) = try BrokerDefinitionsTests.topologies(otherService)
        let user = service.name
        try await deployment.expectRefused(user, "consume \(other.inbox)") { _ = try await $0.consume(queue: other.inbox) }
        try await deployment.expectRefused(user, "read \(other.deadLetterQueue)") { _ = try await $0.get(queue: other.deadLetterQueue) }
        try await deployment.expectRefused(user, "declare \(otherService.name)'s topology") { try await $0.declare(otherTopology) }
        try await deployment.expectRefused(user, "declare its own queue under another name") {
            try await $0.declare(Topology(queues: [.quorum("\(names.inbox).extra")]))
        }
        try await deployment.expectRefused(user, "publish to \(other.deadLetterExchange)") {
            try await $0.publish(Data(), exchange: other.deadLetterExchange, routingKey: "any")
        }
        try await deployment.expectRefused(user, "read the archive (it holds every message)") {
            _ = try await $0.consume(queue: names.archive, prefetch: 10, arguments: ["x-stream-offset": "first"])
        }
        // Topic permissions: a service cannot forge another's messages, nor integrations'.
        let emits = try service.emits()
        for type in MessageType.allCases where !emits.contains(type) {
            try await deployment.expectRefused(user, "publish \(type.rawValue)") {
                try await $0.publish(Data("{}".utf8), exchange: names.exchange, routingKey: type.rawValue, properties: properties(type))
            }
        }
    }

    // MARK: Integrations

    static func integrationOnlyPublishesItsTwoTypes(_ deployment: BrokerDeployment) async throws {
        let connection = try await deployment.connect(as: "integration")
        // Bodies that are not valid: the registrations service parks them (see the last step).
        for type in Deployment.integrationPublishes.sorted(by: { $0.rawValue < $1.rawValue }) {
            try await connection.publish(
                Data("{}".utf8), exchange: "delegation", routingKey: type.rawValue, properties: properties(type), mandatory: true)
        }
        #expect(try await connection.exchangeExists("delegation"), "a passive check needs no permission")
        await connection.close()

        let user = "integration"
        for type in MessageType.allCases where !Deployment.integrationPublishes.contains(type) {
            try await deployment.expectRefused(user, "publish \(type.rawValue)") {
                try await $0.publish(Data("{}".utf8), exchange: "delegation", routingKey: type.rawValue, properties: properties(type))
            }
        }
        try await deployment.expectRefused(user, "publish straight into an inbox") {
            try await $0.publish(Data("{}".utf8), exchange: "", routingKey: "registrations.inbox")
        }
        try await deployment.expectRefused(user, "read an inbox") { _ = try await $0.get(queue: "registrations.inbox") }
        try await deployment.expectRefused(user, "read dead letters") { _ = try await $0.get(queue: "registrations.dead-letters") }
        try await deployment.expectRefused(user, "read the archive") {
            _ = try await $0.consume(queue: "delegation.archive", prefetch: 10, arguments: ["x-stream-offset": "first"])
        }
        try await deployment.expectRefused(user, "declare a queue of its own") {
            try await $0.declare(Topology(queues: [.classic("integration.answers")]))
        }
        try await deployment.expectRefused(user, "declare the domain exchange") {
            try await $0.declare(Topology(exchanges: [.topic("delegation")]))
        }
    }

    // MARK: Ops

    static func opsAppliesTopologyAndHandlesFailedMessages(_ deployment: BrokerDeployment) async throws {
        let connection = try await deployment.connect(as: "delegation-ops")
        for service in Deployment.services {
            let (domain, own, names) = try BrokerDefinitionsTests.topologies(service)
            try await connection.declare(domain)
            try await connection.declare(own)
            try await connection.purge(queue: names.deadLetterQueue)
        }
        // Status by passive declares: the integration's two messages wait for registrations.
        #expect(try await connection.queueState("registrations.inbox").messageCount == Deployment.integrationPublishes.count)
        // The archive from its start: the services' first messages are there.
        let archive = Collector(
            try await connection.consume(queue: "delegation.archive", prefetch: 100, arguments: ["x-stream-offset": "first"]), autoAck: true
        )
        _ = await archive.wait(for: 1, within: 10)
        #expect(archive.count > 0, "the ops user reads the archive")
        archive.stop()
        await connection.close()

        // The ops tool itself, with this user: apply and verify the whole topology (exit 0: no drift).
        let url = try deployment.url(as: "delegation-ops")
        for command in [["topology", "apply"], ["topology", "verify"]] {
            try await TestBroker.run(ServiceTestBed.executable("delegation-ops"), command + ["--url", url])
        }

        try await deployment.expectRefused("delegation-ops", "read a queue that is not the system's") {
            _ = try await $0.get(queue: "scratch")
        }
        try await deployment.expectRefused("delegation-ops", "declare something the system does not use") {
            try await $0.declare(Topology(queues: [.classic("scratch")]))
        }
    }

    // MARK: The real executable

    /// `registrations` as deployed: the example settings, its own user, nothing else. It starts,
    /// gets ready (by compose's health check command), places a registration published by an
    /// integration for a programme published by ops (seen in the archive), parks the invalid
    /// messages (its dead-letter exchange), and stops cleanly on SIGTERM.
    static func registrationsExecutableRunsWithItsOwnUser(_ deployment: BrokerDeployment) async throws {
        let service = try #require(Deployment.service("registrations"))
        var environment = try EnvironmentFile(path: service.environmentExample).values
        environment["AMQP_URL"] = try deployment.url(as: "registrations")
        environment["REGISTRATIONS_IDENTITY_KEYS"] = "k1:" + Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        environment["REGISTRATIONS_RETENTION_DAYS"] = String(Samples.retentionDays)
        environment["REGISTRATIONS_STORE_PATH"] = deployment.directory.appendingPathComponent("registrations.sqlite").path
        environment["REGISTRATIONS_HTTP_PORT"] = "0"
        environment["LOG_FORMAT"] = "text"
        let process = try ServiceProcess(
            executable: ServiceTestBed.executable("registrations"), environment: environment,
            logFile: deployment.directory.appendingPathComponent("registrations.log"))
        var stopped = false
        defer { if !stopped { process.signal(SIGKILL) } }

        let listening = await eventually(within: 30) { Self.httpPort(in: process.log) != nil || !process.isRunning }
        let port = try #require(listening ? Self.httpPort(in: process.log) : nil, "registrations started: \(process.log.suffix(2000))")

        // Compose's health check, pointed at this process's port.
        let compose = try await Deployment.compose()
        let check = try #require(
            ((compose["services"] as? [String: [String: Any]])?["registrations"]?["healthcheck"] as? [String: Any])?["test"] as? [String])
        #expect(check.prefix(3) == ["CMD", "bash", "-c"])
        let script = check[3].replacingOccurrences(of: "/\(service.defaultHTTPPort) ", with: "/\(port) ")
        var failure = ""
        let ready = await eventually(within: 20) {
            do {
                try await TestBroker.run("/bin/bash", ["-c", script])
                return true
            } catch {
                failure = "\(error)"
                return false
            }
        }
        #expect(ready, "compose's health check finds it ready: \(failure)")

        let ops = try await deployment.connect(as: "delegation-ops")
        let archive = Collector(
            try await ops.consume(queue: "delegation.archive", prefetch: 200, arguments: ["x-stream-offset": "first"]), autoAck: true)
        try await publish(Samples.programme(), on: ops)
        let integration = try await deployment.connect(as: "integration")
        let reference = "deploy-\(deployment.id)"
        try await publish(Samples.submission(reference: reference), on: integration)
        await integration.close()

        let accepted = {
            archive.deliveries.contains { delivery in
                delivery.properties.type == MessageType.registrationAccepted.rawValue && delivery.properties.appID == "registrations"
                    && (try? MessageCoding.decode(RegistrationAccepted.self, from: delivery.body))?.reference == reference
            }
        }
        _ = await eventually(within: 20) { accepted() }
        #expect(accepted(), "registration.accepted for \(reference) reached the archive: \(process.log.suffix(2000))")
        archive.stop()

        // The integration's invalid messages, parked by the service through its dead-letter exchange.
        var parked: [Delivery] = []
        _ = await eventually(within: 10) {
            while let got = try? await ops.get(queue: "registrations.dead-letters") {
                got.delivery.ack()
                parked.append(got.delivery)
            }
            return parked.count >= Deployment.integrationPublishes.count
        }
        #expect(parked.count == Deployment.integrationPublishes.count)
        #expect(
            parked.allSatisfy {
                $0.headers["x-failure-service"]?.stringValue == "registrations"
                    && $0.headers["x-failure-kind"]?.stringValue == "invalid-body"
            })
        await ops.close()

        process.signal(SIGTERM)
        let status = await process.wait(within: 30)
        stopped = status != nil
        #expect(status == 0, "a clean stop: \(process.log.suffix(2000))")
        #expect(!process.log.contains("ACCESS_REFUSED"), "no refusal in the log: \(process.log.suffix(2000))")
    }

    // MARK: Helpers

    /// Runs `body` for the three services at once (they are independent, as in production).
    static func forEachService(_ body: @escaping @Sendable (Deployment.Service) async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for service in Deployment.services { group.addTask { try await body(service) } }
            try await group.waitForAll()
        }
    }

    static func properties(_ type: MessageType) -> MessageProperties {
        MessageProperties(
            contentType: "application/json", headers: ["schema-version": "1.0"], deliveryMode: .persistent, messageID: UUID().uuidString,
            timestamp: Date(), type: type.rawValue, appID: "deployment-tests")
    }

    static func publish<T: MessagePayload>(_ payload: T, on connection: AMQPConnection) async throws {
        try await connection.publish(
            MessageCoding.encode(payload), exchange: "delegation", routingKey: T.messageType.rawValue,
            properties: properties(T.messageType), mandatory: true)
    }

    /// The port in the service's `HTTP listening http.address=HOST:PORT` log line (text format).
    static func httpPort(in log: String) -> Int? {
        Deployment.matches(#"HTTP listening.*http\.address=\S*:(\d+)\s"#, in: log).first.flatMap(Int.init)
    }
}
