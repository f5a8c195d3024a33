import Foundation
import TestSupport
import Testing

/// `deploy/observability`: the Prometheus configuration and alert rules pass `promtool`, their
/// unit tests fire each alert on its situation and on nothing else, and every metric the rules
/// and the dashboard name is exported by a service or the broker.
@Suite struct ObservabilityTests {
    static let folder = "\(Deployment.deploy)/observability"

    @Test func promtoolAcceptsTheConfigurationAndTheRulesAndTheirTestsPass() async throws {
        for arguments in [
            ["check", "config", "--syntax-only", "\(Self.folder)/prometheus.yml"],
            ["check", "rules", "\(Self.folder)/alerts.yml"],
            ["test", "rules", "\(Self.folder)/alerts.test.yml"],
        ] {
            let output = try await TestBroker.run("/usr/bin/promtool", arguments)
            #expect(output.contains("SUCCESS"), "promtool \(arguments.joined(separator: " ")): \(output)")
        }
    }

    /// The `expr:` of each rule (one line, or a folded block below it).
    static func expressions(inRules rules: String) -> [String] {
        var found: [String] = []
        var block: [String]?
        for line in rules.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if var open = block {
                if trimmed.hasPrefix("for:") || trimmed.hasPrefix("labels:") || trimmed.hasPrefix("annotations:") {
                    found.append(open.joined(separator: " "))
                    block = nil
                } else {
                    open.append(trimmed)
                    block = open
                }
            } else if trimmed.hasPrefix("expr:") {
                let value = trimmed.dropFirst("expr:".count).trimmingCharacters(in: .whitespaces)
                if value == ">" { block = [] } else { found.append(value) }
            }
        }
        return found
    }

    @Test func everyMetricTheAlertsAndTheDashboardNameIsExported() throws {
        let rules = try String(contentsOfFile: "\(Self.folder)/alerts.yml", encoding: .utf8)
        #expect(Self.expressions(inRules: rules).count == 8, "one expression per alert")
        let dashboard = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(Self.folder)/grafana-dashboard.json")))
                as? [String: Any])
        let panels = try #require(dashboard["panels"] as? [[String: Any]])
        #expect(panels.count >= 10)
        let expressions = panels.flatMap { ($0["targets"] as? [[String: Any]] ?? []).compactMap { $0["expr"] as? String } }
        #expect(expressions.count >= panels.count)

        // The names the services register (`.metric("…"` or `name: "…"` in Swift sources), with a
        // histogram's series.
        var exported: Set<String> = ["up"]
        for folder in ["Shared", "Services"] {
            let files = FileManager.default.enumerator(atPath: "\(Deployment.root)/\(folder)")?.compactMap { $0 as? String } ?? []
            for file in files where file.hasSuffix(".swift") {
                let source = try String(contentsOfFile: "\(Deployment.root)/\(folder)/\(file)", encoding: .utf8)
                for match in source.matches(of: /(?:name: |\.metric\(\s*)"([a-z_]+)"/) { exported.insert(String(match.1)) }
            }
        }
        for histogram in exported where histogram.hasSuffix("_seconds") {
            exported.formUnion(["_bucket", "_count", "_sum"].map { histogram + $0 })
        }
        #expect(exported.isSuperset(of: ["service_ready", "outbox_oldest_age_seconds", "notification_attempts_total", "plan_value"]))
        let functions: Set = [
            "sum", "by", "rate", "increase", "histogram_quantile", "unless", "le", "job", "queue", "service", "outcome",
            "channel", "type", "reason", "status", "event",
        ]
        for text in expressions + Self.expressions(inRules: rules) {
            for match in text.matches(
                of: /\b([a-z_]+)\s*[\{\(\[]|\b([a-z_]+_(?:total|seconds|bucket|watermark|backlog|value|ready|consumers|messages))\b/)
            {
                let name = String(match.1 ?? match.2 ?? "")
                guard !functions.contains(name), !name.isEmpty else { continue }
                #expect(name.hasPrefix("rabbitmq_") || exported.contains(name), "\(name) is not exported by anything: \(text.prefix(120))")
            }
        }
    }
}
