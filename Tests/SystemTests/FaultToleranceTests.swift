import AMQP
import Foundation
import GRDB
import Messages
import ServiceRuntime
import TestSupport
import Testing

/// The three services as processes on a broker of their own, under a stream of registrations,
/// amendments, cancellations and poison messages, while each service is killed (-9) and
/// restarted, the broker's connections are closed, the broker itself is stopped and started,
/// and a memory alarm blocks every publisher for a while. Then everything is counted from the stores, the dead-letter queues and the SMTP
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
            try await TestBroker.run(
                "/usr/bin/env",
                environment.filter { $0.key.hasPrefix("DELEGATION_BROKER_") }.map { "\($0.key)=\($0.value)" }.sorted()
                    + ["\(TestBroker.root)/deploy/broker"] + arguments)
        }
    }

    @Test func faultsDuringAStreamLoseNothingAndDoubleNothing() async throws {
        _ = try? await FaultBroker.run(["stop"])
        try? FileManager.default.removeItem(atPath: FaultBroker.environment["DELEGATION_BROKER_DIR"] ?? "")
        _ = try await FaultBroker.run(["start"])
        let workload = try Workload(total: 1500, poison: true)
        let count = workload.stream.count
        try await workload.prove(on: FaultBroker.url, name: "fault-test", kills: 2, parkingFaults: 5) { system in
            [
                count / 8: ("kill -9 registrations", { try await system.restart("registrations") }),
                count * 2 / 8: ("kill -9 itineraries", { try await system.restart("itineraries") }),
                count * 3 / 8: ("kill -9 notifications", { try await system.restart("notifications") }),
                count * 4 / 8: (
                    "close every broker connection", { _ = try await FaultBroker.run(["ctl", "close_all_connections", "fault test"]) }
                ),
                // A service started while the broker is down waits for it (and through its
                // recovery: queues whose home is not up yet), rather than exiting.
                count * 5 / 8: (
                    "stop the broker, restart registrations while it is down, start the broker",
                    {
                        _ = try await FaultBroker.run(["stop"])
                        try await system.restart("registrations")
                        try await Task.sleep(for: .seconds(1))
                        _ = try await FaultBroker.run(["start"])
                    }
                ),
                // A memory alarm: the broker blocks every publishing connection; publishes wait
                // (the outbox keeps them) and nothing is lost or doubled when it clears.
                count * 11 / 16: (
                    "a memory alarm for 5 s",
                    {
                        _ = try await FaultBroker.run(["ctl", "set_vm_memory_high_watermark", "0.000001"])
                        try await Task.sleep(for: .seconds(5))
                        _ = try await FaultBroker.run(["ctl", "set_vm_memory_high_watermark", "0.4"])
                    }
                ),
                count * 6 / 8: ("kill -9 registrations again", { try await system.restart("registrations") }),
                count * 7 / 8: ("kill -9 notifications again", { try await system.restart("notifications") }),
            ]
        }
        _ = try? await FaultBroker.run(["stop"])
    }
}
