import AMQP
import Foundation
import ServiceCatalog
import ServiceRuntime
import TestSupport
import Testing

/// The three services and a publisher on a three-node cluster (deploy/cluster), each connection
/// given all three nodes: under the stream, the node everyone is connected to is stopped (its
/// connections drop, the quorum queues it led elect new leaders on the others) and started
/// again, then another node is stopped. Nothing is lost and nothing doubled.
@Suite(.serialized) struct ClusterTests {
    /// The cluster's own ports and folder, apart from the other test brokers.
    static let environment = [
        "DELEGATION_CLUSTER_PORT": "5721", "DELEGATION_CLUSTER_DIST_PORT": "25721", "DELEGATION_CLUSTER_EPMD_PORT": "4391",
        "DELEGATION_CLUSTER_DIR": "\(TestBroker.root)/.run/cluster-test",
    ]
    static let url = "amqp://guest:guest@127.0.0.1:5721,127.0.0.1:5722,127.0.0.1:5723/"

    static func cluster(_ arguments: [String]) async throws -> String {
        try await TestBroker.run(
            "/usr/bin/env", environment.map { "\($0.key)=\($0.value)" }.sorted() + ["\(TestBroker.root)/deploy/cluster"] + arguments)
    }

    @Test func stoppingANodeUnderLoadLosesNothing() async throws {
        _ = try? await Self.cluster(["stop"])
        try? FileManager.default.removeItem(atPath: Self.environment["DELEGATION_CLUSTER_DIR"] ?? "")
        _ = try await Self.cluster(["start"])
        let workload = try Workload(total: 600, poison: false)
        let count = workload.stream.count
        // Retries as in production, spread over longer than a fail-over takes: a message whose
        // copy to one queue was lost with its node is published again after the reconnection,
        // so another service may meanwhile see what it caused first (an itinerary before the
        // acceptance it follows) and must retry until it arrives, not park it after 1.3 s.
        let delays = "1,5,30"
        let settings = Dictionary(
            uniqueKeysWithValues: SystemServices.all.map { ("\(ServiceConfiguration.prefix(for: $0.name))_RETRY_DELAYS", delays) })
        try await workload.prove(on: Self.url, name: "cluster-test", kills: 0, settings: settings) { _ in
            [
                count / 4: ("stop node 1 (every client's first node)", { _ = try await Self.cluster(["stop-node", "1"]) }),
                count / 2: ("start node 1 again", { _ = try await Self.cluster(["start-node", "1"]) }),
                count * 3 / 4: ("stop node 2", { _ = try await Self.cluster(["stop-node", "2"]) }),
            ]
        } afterwards: { system in
            // Every service is still up, having lost node 1 and moved to a node that runs.
            for (instance, process) in system.processes {
                #expect(process.isRunning, "\(instance)")
                #expect(process.log.contains("AMQP connection lost"), "\(instance) was on node 1 and had to move")
            }
        }
        _ = try? await Self.cluster(["stop"])
    }
}
