import Foundation

/// What AMQP 0-9-1 cannot read or set: bindings and policies, through `rabbitmqctl` on the
/// broker's host (`rabbitmqctl`, `rabbitmqctl -n rabbit@host`, or `deploy/broker ctl`).
public struct BrokerControl: Sendable {
    public let command: [String]

    /// `commandLine` is split at spaces: `rabbitmqctl -n rabbit@db1`.
    public init(commandLine: String) {
        command = commandLine.split(separator: " ").map(String.init)
    }

    /// A binding from `exchange` to a queue, or (with `toExchange`) to another exchange.
    public struct Binding: Sendable, Hashable, CustomStringConvertible {
        public var exchange: String
        public var queue: String
        public var routingKey: String
        public var toExchange = false
        public var description: String {
            "\(exchange) → \(toExchange ? "exchange " : "")\(queue) (\(routingKey.isEmpty ? "no key" : routingKey))"
        }
    }

    /// A policy as `definitions.json` and `rabbitmqctl list_policies` write it.
    public struct Policy: Sendable, Equatable {
        public var name: String
        public var pattern: String
        public var applyTo: String
        public var priority: Int
        /// The definition as canonical JSON (sorted keys), so that two can be compared.
        public var definition: String

        init?(_ object: [String: Any]) {
            guard let name = object["name"] as? String, let pattern = object["pattern"] as? String else { return nil }
            self.name = name
            self.pattern = pattern
            applyTo = object["apply-to"] as? String ?? "all"
            priority = (object["priority"] as? Int) ?? Int(object["priority"] as? String ?? "") ?? 0
            let value =
                object["definition"].flatMap { $0 as? [String: Any] }
                ?? (object["definition"] as? String).flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
                ?? [:]
            definition =
                (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys])).map { String(decoding: $0, as: UTF8.self) }
                ?? "{}"
        }
    }

    /// The policies in a RabbitMQ definitions file (`deploy/rabbitmq/definitions.json`).
    public static func policies(inDefinitions path: String) throws -> [Policy] {
        guard let data = FileManager.default.contents(atPath: path),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else {
            throw OpsError.notFound("cannot read the definitions file \(path) (--definitions)")
        }
        return (object["policies"] as? [[String: Any]] ?? []).compactMap(Policy.init)
    }

    public func bindings(vhost: String) async throws -> Set<Binding> {
        let rows = try await json([
            "list_bindings", "-p", vhost, "source_name", "destination_name", "destination_kind", "routing_key", "--formatter", "json",
        ])
        return Set(
            rows.compactMap { row in
                guard let kind = row["destination_kind"] as? String, let source = row["source_name"] as? String, !source.isEmpty,
                    let destination = row["destination_name"] as? String
                else { return nil }
                return Binding(
                    exchange: source, queue: destination, routingKey: row["routing_key"] as? String ?? "", toExchange: kind == "exchange")
            })
    }

    public func policies(vhost: String) async throws -> [Policy] {
        try await json(["list_policies", "-p", vhost, "--formatter", "json"]).compactMap(Policy.init)
    }

    public func set(_ policy: Policy, vhost: String) async throws {
        _ = try await run([
            "set_policy", "-p", vhost, "--priority", String(policy.priority), "--apply-to", policy.applyTo, policy.name, policy.pattern,
            policy.definition,
        ])
    }

    private func json(_ arguments: [String]) async throws -> [[String: Any]] {
        let output = try await run(arguments + ["--silent"])
        let text = output.trimmingCharacters(in: .whitespacesAndNewlines)
        if text.isEmpty { return [] }
        guard let rows = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]] else {
            throw OpsError.interrupted("\(command.joined(separator: " ")) \(arguments.first ?? ""): unexpected output: \(text.prefix(200))")
        }
        return rows
    }

    private func run(_ arguments: [String]) async throws -> String {
        guard let executable = command.first else { throw OpsError.usage("--rabbitmqctl is empty") }
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("delegation-ops-\(UUID().uuidString).out")
        guard FileManager.default.createFile(atPath: output.path, contents: nil) else {
            throw OpsError.interrupted("cannot write \(output.path)")
        }
        defer { try? FileManager.default.removeItem(at: output) }
        let handle = try FileHandle(forWritingTo: output)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable.contains("/") ? executable : "/usr/bin/env")
        process.arguments = (executable.contains("/") ? [] : [executable]) + command.dropFirst() + arguments
        process.standardOutput = handle
        process.standardError = handle
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do {
                try process.run()
            } catch {
                continuation.resume(throwing: OpsError.unavailable("cannot run \(executable): \(error)"))
            }
        }
        try? handle.close()
        let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        guard status == 0 else {
            throw OpsError.interrupted(
                "\((command + arguments.prefix(1)).joined(separator: " ")) failed (exit \(status)): \(text.prefix(300))")
        }
        return text
    }
}
