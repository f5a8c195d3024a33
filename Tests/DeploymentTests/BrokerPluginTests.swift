import Foundation
import TestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `deploy/rabbitmq/enabled_plugins`: the plugins production needs, enabled the same way on the
/// Debian host, in compose, and on the broker every test here runs against.
@Suite struct BrokerPluginTests {
    static let plugins = ["rabbitmq_consistent_hash_exchange", "rabbitmq_management", "rabbitmq_prometheus"]

    @Test func theDeploymentEnablesTheShardsExchangeManagementAndPrometheus() throws {
        let text = try String(contentsOfFile: "\(Deployment.deploy)/rabbitmq/enabled_plugins", encoding: .utf8)
        let listed = text.trimmingCharacters(in: .whitespacesAndNewlines).trimmingCharacters(in: CharacterSet(charactersIn: "[]."))
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(listed.sorted() == Self.plugins, "an Erlang list ending in a full stop: \(text)")
        // On a Debian host, the listeners stay on loopback.
        let conf = try String(contentsOfFile: "\(Deployment.deploy)/rabbitmq/rabbitmq.conf", encoding: .utf8)
        for line in [
            "listeners.tcp.default = 127.0.0.1:5672", "management.tcp.ip = 127.0.0.1", "management.tcp.port = 15672",
            "prometheus.tcp.ip = 127.0.0.1", "prometheus.tcp.port = 15692",
        ] {
            #expect(conf.contains("\n\(line)\n"), "\(line)")
        }
        // In a container, on the container's interfaces (compose publishes on the host's loopback).
        let container = try String(contentsOfFile: "\(Deployment.deploy)/rabbitmq/container.conf", encoding: .utf8)
        #expect(container.contains("\nlisteners.tcp.default = 5672\n"))
    }

    @Test func composeMountsThePluginsAndPublishesTheirPortsOnLoopback() async throws {
        let compose = try await Deployment.compose()
        let broker = try #require((compose["services"] as? [String: [String: Any]])?["rabbitmq"])
        let volumes = broker["volumes"] as? [String] ?? []
        #expect(volumes.contains("./rabbitmq/enabled_plugins:/etc/rabbitmq/enabled_plugins:ro"))
        #expect(volumes.contains("./rabbitmq/container.conf:/etc/rabbitmq/conf.d/95-container.conf:ro"))
        let ports = broker["ports"] as? [String] ?? []
        #expect(ports.contains("127.0.0.1:15672:15672") && ports.contains("127.0.0.1:15692:15692"), "\(ports)")
    }

    /// `deploy/broker` copies the same file: the running broker has the consistent-hash
    /// exchange type, answers the management API and serves its metrics (the memory alarm among
    /// them, for the alert rules), on loopback.
    @Test func theBrokerTheTestsRunOnHasThePluginsOfTheDeployment() async throws {
        let environment = ProcessInfo.processInfo.environment
        let management = environment["DELEGATION_BROKER_MANAGEMENT_URL"] ?? "http://127.0.0.1:15673/"
        let prometheus = environment["DELEGATION_BROKER_PROMETHEUS_URL"] ?? "http://127.0.0.1:16673/metrics"
        var request = URLRequest(url: try #require(URL(string: management + "api/overview")))
        request.setValue("Basic " + Data("guest:guest".utf8).base64EncodedString(), forHTTPHeaderField: "Authorization")
        let (data, response) = try await URLSession.shared.data(for: request)
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
        let overview = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let types = (overview["exchange_types"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        #expect(types.contains("x-consistent-hash"), "\(types)")
        let (metrics, _) = try await URLSession.shared.data(from: try #require(URL(string: prometheus)))
        let text = String(decoding: metrics, as: UTF8.self)
        #expect(text.contains("rabbitmq_alarms_memory_used_watermark"), "the broker's memory alarm is exported")
        #expect(management.hasPrefix("http://127.0.0.1:") && prometheus.hasPrefix("http://127.0.0.1:"))
    }
}
