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
        #expect(await Workload.servicesDeclared(on: publisher))

        let workload = try Workload(total: 1500, poison: true)
        let stream = workload.stream
        let faults: [Int: (String, @Sendable () async throws -> Void)] = [
            stream.count / 8: ("kill -9 registrations", { try await system.restart("registrations") }),
            stream.count * 2 / 8: ("kill -9 itineraries", { try await system.restart("itineraries") }),
            stream.count * 3 / 8: ("kill -9 notifications", { try await system.restart("notifications") }),
            stream.count * 4 / 8: ("close every broker connection", { _ = try await FaultBroker.run(["ctl", "close_all_connections", "fault test"]) }),
            stream.count * 5 / 8: ("stop and start the broker", { _ = try await FaultBroker.run(["stop"]); _ = try await FaultBroker.run(["start"]) }),
            stream.count * 6 / 8: ("kill -9 registrations again", { try await system.restart("registrations") }),
            stream.count * 7 / 8: ("kill -9 notifications again", { try await system.restart("notifications") }),
        ]
        let injected = try await workload.run(on: publisher, faults: faults)
        let (settled, last) = await Workload.settle(system, smtp, publisher)
        #expect(settled, "the system did not settle: \(last)")
        let counts = try await workload.verify(system, smtp, publisher, kills: 3)

        let figures = "fault test: \(workload.summary); faults: \(injected.joined(separator: "; ")); \(counts)"
        print(figures)
        try figures.write(toFile: "\(TestBroker.root)/.run/fault-test-figures.txt", atomically: true, encoding: .utf8)

        await publisher.close()
        await system.stopAll()
        _ = try? await FaultBroker.run(["stop"])
    }
}
