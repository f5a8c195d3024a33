import AMQP
import Foundation
import Messages
import NotificationsCore
import ServiceRuntime
import TestSupport
import Testing

@testable import OpsCore

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The command line on a virtual host of its own: the system's real names, nothing shared.
@Suite struct OpsToolTests {
    static func url(_ vhost: String) -> String { TestBroker.url.hasSuffix("/") ? TestBroker.url + vhost : TestBroker.url + "/" + vhost }

    /// (A guard against a hung command, not a measure: with `--rabbitmqctl` the tool runs
    /// rabbitmqctl once per binding list, policy list and policy set, an Erlang VM started each
    /// time; under the whole suite on 2 cores those calls have taken over 60 s together.)
    static func ops(_ vhost: String, _ arguments: [String], environment: [String: String] = [:]) async throws -> OpsTool.Result {
        try await OpsTool.run(
            arguments, environment: ["DELEGATION_OPS_URL": url(vhost), "EXCHANGE": "delegation"].merging(environment) { $1 }, within: 300)
    }

    @Test func topologyIsVerifiedAppliedAndItsDriftReported() async throws {
        try await TestBroker.withVirtualHost { vhost in
            let empty = try await Self.ops(vhost, ["topology", "verify"])
            #expect(empty.status == 1)
            #expect(empty.output.contains("MISSING exchange delegation"))
            #expect(empty.output.contains("MISSING queue notifications.inbox"))
            #expect(empty.output.contains("MISSING queue delegation.archive"))

            let applied = try await Self.ops(vhost, ["topology", "apply"])
            #expect(applied.status == 0, "\(applied.output)")
            #expect(applied.output.contains("declared 8 exchanges, 26 queues"))
            let clean = try await Self.ops(vhost, ["topology", "verify"])
            #expect(clean.status == 0, "\(clean.output)")
            #expect(clean.output.contains("topology matches"))
            #expect(clean.output.contains("bindings and policies not checked"))

            // With rabbitmqctl: the policies of the definitions file are missing until applied,
            // and a binding removed by hand is reported.
            let control = [
                "--rabbitmqctl", "\(TestBroker.root)/deploy/broker ctl", "--definitions",
                "\(TestBroker.root)/deploy/rabbitmq/definitions.json",
            ]
            let noPolicies = try await Self.ops(vhost, ["topology", "verify"] + control)
            #expect(noPolicies.status == 1, "\(noPolicies.output)")
            #expect(noPolicies.output.contains("MISSING policy delegation-inboxes"))
            #expect(!noPolicies.output.contains("MISSING binding"))
            let withPolicies = try await Self.ops(vhost, ["topology", "apply"] + control)
            #expect(withPolicies.status == 0 && withPolicies.output.contains("set 3 policies"), "\(withPolicies.output)")
            let complete = try await Self.ops(vhost, ["topology", "verify"] + control)
            #expect(complete.status == 0 && complete.output.contains("bindings and the policies"), "\(complete.output)")
            let unbinder = try await TestBroker.connect(vhost: vhost)
            try await unbinder.unbind(Binding(queue: "notifications.inbox", exchange: "delegation", routingKey: "itinerary.planned"))
            await unbinder.close()
            let unbound = try await Self.ops(vhost, ["topology", "verify"] + control)
            #expect(unbound.status == 1)
            #expect(unbound.output.contains("MISSING binding delegation → notifications.inbox (itinerary.planned)"), "\(unbound.output)")
            #expect(try await Self.ops(vhost, ["topology", "apply"]).status == 0)
            // A broker from before contract 1.3 binds the archive to every key (it kept the plain
            // registration.submitted): reported, and removed by apply.
            let older = try await TestBroker.connect(vhost: vhost)
            try await older.declare(Topology(bindings: [Binding(queue: "delegation.archive", exchange: "delegation", routingKey: "#")]))
            await older.close()
            let retired = try await Self.ops(vhost, ["topology", "verify"] + control)
            #expect(retired.status == 1)
            #expect(retired.output.contains("DIFFERS binding delegation → delegation.archive (#): retired"), "\(retired.output)")
            #expect(try await Self.ops(vhost, ["topology", "apply"]).status == 0)
            #expect(try await Self.ops(vhost, ["topology", "verify"] + control).status == 0)

            // Someone re-creates a delay queue by hand with another TTL.
            let connection = try await TestBroker.connect(vhost: vhost)
            _ = try await connection.delete(queue: "notifications.retry.2")
            try await connection.declare(
                Topology(queues: [
                    QueueDeclaration(
                        name: "notifications.retry.2", kind: .quorum, deadLetterExchange: "", deadLetterRoutingKey: "notifications.inbox",
                        messageTTL: 9000)
                ]))
            await connection.close()
            let drift = try await Self.ops(vhost, ["topology", "verify"])
            #expect(drift.status == 1)
            #expect(drift.output.contains("DIFFERS queue notifications.retry.2"))
            #expect(drift.output.contains("x-message-ttl"))
            #expect(!drift.output.contains("registrations.retry.2"))
            // Applying over it cannot succeed, however often it is run: said so, not "run again".
            let conflict = try await Self.ops(vhost, ["topology", "apply"])
            #expect(conflict.status == 78, "\(conflict.output)")
            #expect(conflict.output.contains("PRECONDITION_FAILED") && conflict.output.contains("will not help"), "\(conflict.output)")
            // The topology follows the services' settings in the environment, as each service
            // reads them: notifications configured with a 9 s second delay matches that queue.
            let configured = try await Self.ops(vhost, ["topology", "verify"], environment: ["NOTIFICATIONS_RETRY_DELAYS": "1,9,30,120"])
            #expect(configured.status == 0, "\(configured.output)")
            let wrong = try await Self.ops(vhost, ["topology", "verify"], environment: ["NOTIFICATIONS_DELIVERY_LIMIT": "many"])
            #expect(wrong.status == 64 && wrong.output.contains("NOTIFICATIONS_DELIVERY_LIMIT='many'"), "\(wrong.output)")
        }
    }

    @Test func shardsAreDeclaredVerifiedAndShownByInstance() async throws {
        try await TestBroker.withVirtualHost { vhost in
            let control = [
                "--rabbitmqctl", "\(TestBroker.root)/deploy/broker ctl", "--definitions",
                "\(TestBroker.root)/deploy/rabbitmq/definitions.json",
            ]
            let applied = try await Self.ops(vhost, ["topology", "apply", "--shards", "notifications=2"] + control)
            #expect(applied.status == 0, "\(applied.output)")
            let verified = try await Self.ops(vhost, ["topology", "verify", "--shards", "notifications=2"] + control)
            #expect(verified.status == 0, "\(verified.output)")
            let unsharded = try await Self.ops(vhost, ["topology", "verify"])
            #expect(unsharded.status == 1 && unsharded.output.contains("MISSING queue notifications.inbox"), "\(unsharded.output)")
            let bad = try await Self.ops(vhost, ["topology", "apply", "--shards", "planner=2"])
            #expect(bad.status == 64 && bad.output.contains("--shards takes service=N"))

            // Each registration's news reaches one shard; the programme reaches both.
            let publisher = try await TestBroker.connect(vhost: vhost)
            for index in 0..<40 {
                var submission = Samples.submission(reference: "shard-\(index)", delegates: 0)
                submission.leadContact.email = "lead\(index)@example.cn"
                let accepted = RegistrationAccepted(
                    registrationID: registrationID(eventID: submission.eventID, reference: submission.reference),
                    eventID: submission.eventID,
                    reference: submission.reference, revision: 1, delegation: submission.delegation, promoted: false, acceptedAt: Date())
                let message = try OutgoingMessage.domain(accepted, exchange: "delegation", appID: "test")
                try await publisher.publish(
                    message.body, exchange: message.exchange, routingKey: message.routingKey, properties: message.properties,
                    mandatory: true)
            }
            let programme = try OutgoingMessage.domain(Samples.programme(), exchange: "delegation", appID: "test")
            try await publisher.publish(
                programme.body, exchange: programme.exchange, routingKey: programme.routingKey, properties: programme.properties,
                mandatory: true)
            let depths = [
                try await publisher.queueState("notifications-1.inbox").messageCount,
                try await publisher.queueState("notifications-2.inbox").messageCount,
            ]
            #expect(depths.reduce(0, +) == 40 + 2, "\(depths)")
            #expect(depths.allSatisfy { $0 > 1 }, "\(depths)")
            await publisher.close()

            let status = try await Self.ops(vhost, ["status", "--no-health", "--shards", "notifications=2"])
            #expect(status.output.contains("notifications-1") && status.output.contains("notifications-2"), "\(status.output)")
            #expect(!status.output.contains("notifications.inbox"))
        }
    }

    /// `publish registrations` sends the records of the command as one batch, each message with
    /// its place, to the registrations inbox.
    @Test func publishedRegistrationsCarryTheirPlaceInTheBatch() async throws {
        try await TestBroker.withVirtualHost { vhost in
            let applied = try await Self.ops(vhost, ["topology", "apply"])
            #expect(applied.status == 0, "\(applied.output)")
            let file = "\(TestBroker.root)/deploy/sample-data/registrations.example.csv"
            let published = try await Self.ops(vhost, ["publish", "registrations", file])
            #expect(published.status == 0, "\(published.output)")
            let publisher = try await TestBroker.connect(vhost: vhost)
            var batches: [BatchPosition] = []
            while let (delivery, _) = try await publisher.get(queue: "registrations.inbox") {
                batches += [try MessageCoding.decode(RegistrationSubmitted.self, from: delivery.body).batch].compactMap { $0 }
            }
            await publisher.close()
            let count = RecordReader.registrations(from: [file]).records.count
            #expect(count > 1 && batches.count == count, "\(published.output)")
            #expect(Set(batches.map(\.id)).count == 1 && batches.map(\.index).sorted() == Array(0..<count))
            #expect(batches.allSatisfy { $0.count == count })
        }
    }

    @Test func brokerProblemsGiveClearMessagesAndExitCodes() async throws {
        let badURL = try await OpsTool.run(["status", "--no-health", "--url", "http://localhost"])
        #expect(badURL.status == 64 && badURL.output.contains("unsupported URL scheme"))
        let nobody = try await OpsTool.run(["status", "--no-health", "--url", "amqp://guest:guest@127.0.0.1:1/"])
        #expect(nobody.status == 69 && nobody.output.contains("Is the broker running"))
        let wrongPassword = try await OpsTool.run([
            "status", "--no-health", "--url", TestBroker.url.replacingOccurrences(of: "guest:guest", with: "guest:wrong"),
        ])
        #expect(wrongPassword.status == 77 && wrongPassword.output.contains("ACCESS_REFUSED"))
        #expect(!wrongPassword.output.contains("wrong"), "the password is not printed")
        let noVhost = try await OpsTool.run(["status", "--no-health", "--url", Self.url("no-such-vhost")])
        #expect(noVhost.status == 77)
        let noQueue = try await OpsTool.run(["failed", "list", "--service", "notifications", "--url", Self.url("no-such-vhost")])
        #expect(noQueue.status == 77)
        let unknown = try await OpsTool.run(["failed", "retry", "--all", "--service", "billing"])
        #expect(unknown.status == 64)
    }

    /// docs/operations.md, "Notifications down for an hour", step by step: messages wait in its
    /// inbox while it is down, `status` says so, and once it runs again every notification goes
    /// out once.
    @Test func runbookNotificationsDownForAnHour() async throws {
        try await TestBroker.withVirtualHost { vhost in
            #expect(try await Self.ops(vhost, ["topology", "apply"]).status == 0)
            let smtp = try await SMTPTestServer()
            defer { smtp.stop() }

            // While notifications is down, registrations keeps accepting.
            let publisher = try await TestBroker.connect(vhost: vhost)
            let accepted = (0..<25).map { index -> RegistrationAccepted in
                var submission = Samples.submission(reference: "down-\(index)", delegates: 0)
                submission.leadContact.email = "lead.\(index)@example.cn"
                return RegistrationAccepted(
                    registrationID: "reg-down-\(index)", eventID: "danang-2026-01", reference: "down-\(index)", revision: 1,
                    delegation: submission.delegation, acceptedAt: Date())
            }
            for result in await publisher.publish(
                try accepted.map { try OutgoingMessage.domain($0, exchange: "delegation", appID: "registrations") })
            {
                try result.get()
            }
            await publisher.close()

            // 1. Notice: status exits 1, the inbox holds the 25 messages and nothing consumes it.
            let down = try await Self.ops(vhost, ["status", "--no-health", "--json"])
            #expect(down.status == 1)
            let downStatus = try MessageCoding.decode(SystemStatus.self, from: Data(down.output.utf8))
            let inbox = try #require(downStatus.services.first { $0.name == "notifications" }?.inbox)
            #expect(inbox.messages == 25 && inbox.consumers == 0)
            #expect(downStatus.problems.contains("nothing consumes notifications.inbox"))

            // 2. Start the service again (here in-process, as systemd would restart it).
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("runbook-\(UUID().uuidString.prefix(6))")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let service = ServiceConfiguration(
                serviceName: "notifications", amqp: TestBroker.configuration(vhost: vhost),
                storePath: directory.appendingPathComponent("n.sqlite").path,
                synchronous: .normal, logLevel: TestBroker.logger.logLevel)
            let configuration = NotificationsConfiguration(
                service: service, smtp: SMTPConfiguration(port: smtp.port, timeout: 5), digestWindow: 0, quietHours: nil)
            let host = try await NotificationsService.makeHost(configuration, logger: TestBroker.logger, connectPatience: 5)
            let running = Task { try await host.run(signals: []) }
            try await host.waitUntilStarted()

            // 3. Verify: the backlog drains, each lead hears once, nothing failed.
            #expect(await eventually(within: 30) { smtp.messages.count >= 25 })
            try await Task.sleep(for: .seconds(1))
            #expect(smtp.messages.count == 25)
            let up = try await Self.ops(vhost, ["status", "--no-health", "--json"])
            let upStatus = try MessageCoding.decode(SystemStatus.self, from: Data(up.output.utf8))
            let notifications = try #require(upStatus.services.first { $0.name == "notifications" })
            #expect(notifications.inbox.messages == 0 && notifications.inbox.consumers == 1 && notifications.deadLetters.messages == 0)
            let failed = try await Self.ops(vhost, ["failed", "list", "--service", "notifications"])
            #expect(failed.output.contains("no failed messages"))
            let port = try #require(host.httpPort)
            let (counts, _) = try await URLSession.shared.data(
                from: try #require(URL(string: "http://127.0.0.1:\(port)/notifications/counts")))
            #expect(try MessageCoding.decode([String: Int].self, from: counts) == ["sent": 25])

            await host.shutdown()
            try await running.value
        }
    }
}
