import Foundation
import Messages
import ServiceCatalog
import ServiceRuntime
import TestSupport
import Testing

/// The deployment files under test and the facts about the services they must agree with, read
/// from the code where the code says them (the variables a service reads, the types it consumes
/// and emits), so that a change there fails these tests until the deployment follows.
enum Deployment {
    static let root = TestBroker.root
    static let deploy = "\(root)/deploy"

    /// A service of `SystemServices` (the list the services and the ops tool read), as the
    /// deployment files know it.
    struct Service: Sendable, CustomTestStringConvertible {
        let system: ServiceDescription

        /// The executable, the broker user and the queue prefix (`registrations`).
        var name: String { system.name }
        /// The folder under `Services/` (`Registrations`).
        var folder: String { name.prefix(1).uppercased() + name.dropFirst() }
        var defaultHTTPPort: Int { system.defaultHTTPPort }
        var prefix: String { ServiceConfiguration.prefix(for: name) }
        var unit: String { "\(Deployment.deploy)/systemd/delegation-\(name).service" }
        var environmentExample: String { "\(Deployment.deploy)/env/\(name).env.example" }
        var containerfile: String { "\(Deployment.deploy)/container/\(name).Containerfile" }
        var testDescription: String { name }

        /// The message types its inbox is bound to.
        var consumes: Set<MessageType> { Set(system.consumes) }

        /// The environment variables the service reads: every `reader.…("KEY"…)` in the shared
        /// and the service's own configuration source, `\(p)` replaced by the prefix.
        func variablesRead() throws -> Set<String> {
            // (and each channel's own settings, in its file)
            let channels = "\(Deployment.root)/Services/\(folder)/Core/Channels"
            let sources =
                [
                    "\(Deployment.root)/Shared/ServiceRuntime/Configuration/ServiceConfiguration.swift",
                    "\(Deployment.root)/Services/\(folder)/Core/\(folder)Configuration.swift",
                ]
                + ((try? FileManager.default.contentsOfDirectory(atPath: channels)) ?? []).filter { $0.hasSuffix(".swift") }.map {
                    "\(channels)/\($0)"
                }
            var keys = Set<String>()
            for source in sources {
                let text = try String(contentsOfFile: source, encoding: .utf8)
                let readers = #"reader\.(?:string|optionalString|integer|seconds|secondsList|boolean|choice|identityVault)\("#
                for key in Deployment.matches(#"(?:\#(readers)|TemplateIDs\.read\(&reader,)\s*"([^"]+)""#, in: text) {
                    keys.insert(key.replacingOccurrences(of: #"\(p)"#, with: prefix))
                }
            }
            return keys
        }

        /// The message types it emits, as its router declares them.
        func emits() throws -> Set<MessageType> { Set(system.emits) }

        /// The message types its code builds: every `OutboundMessage(<Payload>(` in its Core
        /// sources (routes and background work alike), to hold the declaration to.
        func built() throws -> Set<MessageType> {
            let folderPath = "\(Deployment.root)/Services/\(folder)/Core"
            var payloads = Set<String>()
            for file in try FileManager.default.contentsOfDirectory(atPath: folderPath) where file.hasSuffix(".swift") {
                let text = try String(contentsOfFile: "\(folderPath)/\(file)", encoding: .utf8)
                // Built into a message as it is, or sealed first (registrations, contract 1.3).
                payloads.formUnion(Deployment.matches(#"(?:OutboundMessage|sealed)\(\s*(\w+)\("#, in: text))
            }
            return Set(MessageType.allCases.filter { payloads.contains(String(describing: $0.payloadType)) })
        }
    }

    static let services = SystemServices.all.map { Service(system: $0) }

    static func service(_ name: String) -> Service? { services.first { $0.name == name } }

    /// What integrations publish (docs/contracts/README.md: "Integrations publish two types").
    static let integrationPublishes: Set<MessageType> = [.registrationSubmitted, .registrationCancelRequested]

    /// `deploy/rabbitmq/definitions.json`, parsed.
    static func definitions() throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(deploy)/rabbitmq/definitions.json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// `deploy/compose.yaml` as JSON, parsed by PyYAML (python3-yaml).
    static func compose() async throws -> [String: Any] {
        let json = try await TestBroker.run(
            "/usr/bin/python3",
            ["-c", "import sys, json, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)", "\(deploy)/compose.yaml"])
        return try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    }

    /// The first capture group of every match of `pattern` in `text`.
    static func matches(_ pattern: String, in text: String) -> [String] {
        guard let expression = try? NSRegularExpression(pattern: pattern) else { return [] }
        return expression.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap { match in
            Range(match.range(at: 1), in: text).map { String(text[$0]) }
        }
    }

    /// Whether the whole of `name` matches `pattern` as RabbitMQ applies a permission: the
    /// pattern is unanchored, so a regex must anchor itself (all of ours do).
    static func permits(_ pattern: String, _ name: String) -> Bool {
        guard let expression = try? NSRegularExpression(pattern: pattern) else { return false }
        return expression.firstMatch(in: name, range: NSRange(name.startIndex..., in: name)) != nil
    }

    /// Seconds in a systemd or compose time span: `45s`, `1min 30s`, `2m`, `500ms`, `20`.
    static func seconds(_ span: String) -> Double? {
        let units: [String: Double] = ["": 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "ms": 0.001]
        var total = 0.0
        let pieces = span.split(separator: " ")
        guard !pieces.isEmpty else { return nil }
        for piece in pieces {
            let digits = piece.prefix { $0.isNumber || $0 == "." }
            guard let number = Double(digits), let unit = units[String(piece.dropFirst(digits.count))] else { return nil }
            total += number * unit
        }
        return total
    }
}
