import AMQP
import Foundation
import TestSupport
import Testing

/// `deploy/container/*.Containerfile` and `deploy/compose.yaml` (no container engine here: the
/// files are checked as written; the health check command itself runs against a real service in
/// `BrokerPermissionTests`).
@Suite struct ContainerTests {
    /// The services that link libqrencode (the QRCode module): they draw the delegates' passes.
    static let drawsPasses: Set = ["notifications", "console"]

    @Test(arguments: Deployment.services)
    func theImageIsBuiltInOneStageAndRunsAsNonRootInAnother(_ service: Deployment.Service) throws {
        let file = try Containerfile(path: service.containerfile)
        #expect(file.stages.count == 2, "a build stage and a run stage")
        let build = try #require(file.stages.first)
        let run = try #require(file.stages.last)
        #expect(file.arguments["SWIFT_IMAGE"]?.hasPrefix("swift:") == true && file.arguments["SWIFT_IMAGE"]?.hasSuffix("-bookworm") == true)
        #expect(file.arguments["RUN_IMAGE"] == "debian:bookworm-slim")
        #expect(build.from == "${SWIFT_IMAGE} AS build" && run.from == "${RUN_IMAGE}")

        // Build: the release product with the Swift runtime linked in, from the sources only.
        #expect(build.runs.contains { $0.contains("swift build -c release --static-swift-stdlib --product \(service.name)") })
        var buildPackages: Set = ["librabbitmq-dev", "libsqlite3-dev", "zlib1g-dev"]
        if service.name == "notifications" { buildPackages.insert("libcurl4-openssl-dev") }  // links libcurl (FoundationNetworking)
        if Self.drawsPasses.contains(service.name) { buildPackages.insert("libqrencode-dev") }
        #expect(try build.aptPackages().isSuperset(of: buildPackages))
        for copy in build.all("COPY") {
            for source in copy.split(separator: " ").dropLast() where !source.contains("[") {
                #expect(FileManager.default.fileExists(atPath: "\(Deployment.root)/\(source)"), "COPY \(source) exists")
            }
        }

        // Run: only the shared libraries the executable loads, plus CA certificates and zones
        // (zlib1g is part of every Debian image: it is essential).
        var expected: Set = ["librabbitmq4", "libsqlite3-0", "ca-certificates", "tzdata"]
        if service.name == "notifications" { expected.insert("libcurl4") }  // FoundationNetworking (webhooks)
        if Self.drawsPasses.contains(service.name) { expected.insert("libqrencode4") }
        #expect(try run.aptPackages() == expected)
        #expect(run.all("COPY").contains("--from=build /out/\(service.name) /usr/local/bin/\(service.name)"))
        #expect(run.last("ENTRYPOINT") == "[\"/usr/local/bin/\(service.name)\"]" && run.last("CMD") == "[\"serve\"]")
        let user = try #require(run.last("USER"))
        #expect(!["root", "0", "0:0"].contains(user) && !user.hasPrefix("0:"), "USER \(user) is not root")

        // The store in a volume; HTTP on every interface of the container, on the service's port.
        let environment = run.environment
        let store = try #require(environment["\(service.prefix)_STORE_PATH"])
        #expect(run.last("VOLUME") == URL(fileURLWithPath: store).deletingLastPathComponent().path)
        #expect(environment["\(service.prefix)_HTTP_HOST"] == "0.0.0.0")
        #expect(
            environment["\(service.prefix)_HTTP_PORT"] == "\(service.defaultHTTPPort)" && run.last("EXPOSE") == "\(service.defaultHTTPPort)"
        )
    }

    @Test func theNotificationsImageCarriesItsTemplatesWhereTheSettingsLook() throws {
        let service = try #require(Deployment.service("notifications"))
        let run = try #require(try Containerfile(path: service.containerfile).stages.last)
        let templates = try #require(run.environment["NOTIFICATIONS_TEMPLATES"])
        #expect(run.all("COPY").contains("Services/Notifications/Templates \(templates)"))
        #expect(try EnvironmentFile(path: service.environmentExample).values["NOTIFICATIONS_TEMPLATES"] == templates)
    }

    @Test func theConsoleImageCarriesItsAssetsWhereTheSettingsLook() throws {
        let service = try #require(Deployment.service("console"))
        let run = try #require(try Containerfile(path: service.containerfile).stages.last)
        let assets = try #require(run.environment["CONSOLE_ASSETS"])
        #expect(run.all("COPY").contains("Services/Console/Assets \(assets)"))
        #expect(try EnvironmentFile(path: service.environmentExample).values["CONSOLE_ASSETS"] == assets)
    }

    @Test func composeRunsTheBrokerAndEachServiceWithHealthChecksOnLoopbackPortsOnly() async throws {
        let compose = try await Deployment.compose()
        let services = try #require(compose["services"] as? [String: [String: Any]])
        #expect(Set(services.keys) == Set(["rabbitmq", "broker-passwords"] + Deployment.services.map(\.name)))

        for (name, definition) in services.sorted(by: { $0.key < $1.key }) {
            for port in definition["ports"] as? [Any] ?? [] {
                let hostIP =
                    (port as? String).map { String($0.split(separator: ":").first ?? "") } ?? (port as? [String: Any])?["host_ip"]
                    as? String
                #expect(hostIP == "127.0.0.1", "\(name) publishes \(port) on 127.0.0.1 only")
            }
        }

        var healthChecks: [String] = []
        for service in Deployment.services {
            let definition = try #require(services[service.name])
            let build = try #require(definition["build"] as? [String: Any])
            let context = URL(fileURLWithPath: Deployment.deploy).appendingPathComponent(try #require(build["context"] as? String))
                .standardized.path
            #expect(context == URL(fileURLWithPath: Deployment.root).standardized.path, "built from the repository root")
            #expect(
                context + "/" + (build["dockerfile"] as? String ?? "") == service.containerfile,
                "\(service.name) is built from its Containerfile")
            #expect(FileManager.default.fileExists(atPath: service.containerfile))

            // Settings: the example first (required, so it must exist), overrides after it.
            let envFiles = try #require(definition["env_file"] as? [[String: Any]])
            let first = try #require(envFiles.first)
            #expect(first["path"] as? String == "env/\(service.name).env.example" && first["required"] as? Bool != false)
            for file in envFiles where file["required"] as? Bool != false {
                #expect(
                    FileManager.default.fileExists(atPath: "\(Deployment.deploy)/\(file["path"] as? String ?? "")"),
                    "\(service.name): \(file)")
            }

            let environment = try #require(definition["environment"] as? [String: String])
            let url = try AMQPConfiguration(
                url: try #require(environment["AMQP_URL"]).replacingOccurrences(
                    of: #"\$\{[^}]*\}"#, with: "secret", options: .regularExpression))
            #expect(url.user == service.name && url.host == "rabbitmq" && url.virtualHost == "delegation")
            #expect(environment["\(service.prefix)_HTTP_HOST"] == "0.0.0.0")
            let port = try #require(Int(environment["\(service.prefix)_HTTP_PORT"] ?? ""))
            #expect(definition["ports"] as? [String] == ["127.0.0.1:\(port):\(port)"])
            let store = try #require(environment["\(service.prefix)_STORE_PATH"])
            #expect(
                (definition["volumes"] as? [String])?.contains(
                    "\(service.name)-data:\(URL(fileURLWithPath: store).deletingLastPathComponent().path)") == true,
                "the store is on a volume")

            // Healthy means ready: /health/ready on the service's own port.
            let healthCheck = try #require((definition["healthcheck"] as? [String: Any])?["test"] as? [String])
            #expect(healthCheck.first == "CMD")
            let command = healthCheck.joined(separator: " ")
            #expect(command.contains("/dev/tcp/127.0.0.1/\(port)") && command.contains("GET /health/ready "))
            healthChecks.append(command.replacingOccurrences(of: "\(port)", with: "PORT"))

            let dependsOn = try #require(definition["depends_on"] as? [String: [String: Any]])
            #expect(dependsOn["rabbitmq"]?["condition"] as? String == "service_healthy")
            #expect(dependsOn["broker-passwords"]?["condition"] as? String == "service_completed_successfully")

            let shutdown =
                Double(try EnvironmentFile(path: service.environmentExample).values["\(service.prefix)_SHUTDOWN_TIMEOUT"] ?? "20") ?? 20
            #expect(
                (Deployment.seconds(definition["stop_grace_period"] as? String ?? "") ?? 0) > shutdown + 5,
                "\(service.name) gets time to stop gracefully")
            #expect(definition["read_only"] as? Bool == true && definition["cap_drop"] as? [String] == ["ALL"])
        }
        #expect(Set(healthChecks).count == 1, "one health check, differing only in the port: \(healthChecks)")
    }

    @Test func composeLoadsTheDefinitionsAndSetsEveryUsersPassword() async throws {
        let compose = try await Deployment.compose()
        let services = try #require(compose["services"] as? [String: [String: Any]])
        let rabbitmq = try #require(services["rabbitmq"])
        #expect(rabbitmq["healthcheck"] != nil)
        let mounts = rabbitmq["volumes"] as? [String] ?? []
        let configuration = try String(contentsOfFile: "\(Deployment.deploy)/rabbitmq/rabbitmq.conf", encoding: .utf8)
        let definitionsPath = try #require(Deployment.matches(#"(?m)^definitions\.local\.path = (\S+)$"#, in: configuration).first)
        #expect(mounts.contains("./rabbitmq/definitions.json:\(definitionsPath):ro"))
        #expect(mounts.contains { $0.hasPrefix("./rabbitmq/rabbitmq.conf:/etc/rabbitmq/conf.d/") })
        #expect(configuration.contains("\nloopback_users.guest = true\n"))

        // The one-shot gets a password for every user of definitions.json, by the script's names.
        let passwords = try #require(services["broker-passwords"])
        let environment = try #require(passwords["environment"] as? [String: String])
        let users = try #require(try Deployment.definitions()["users"] as? [[String: Any]]).compactMap { $0["name"] as? String }
        for user in users {
            let variable = "BROKER_PASSWORD_" + user.uppercased().map { $0.isLetter || $0.isNumber ? String($0) : "_" }.joined()
            #expect(environment[variable]?.hasPrefix("${\(variable):?") == true, "\(variable) comes from .env and is required")
        }
        #expect((passwords["entrypoint"] as? [String])?.first == "/usr/local/bin/set-passwords")
        #expect((passwords["volumes"] as? [String])?.contains("./rabbitmq/set-passwords:/usr/local/bin/set-passwords:ro") == true)

        // Every variable compose interpolates is in the example .env.
        let text = try String(contentsOfFile: "\(Deployment.deploy)/compose.yaml", encoding: .utf8)
        let interpolated = Set(Deployment.matches(#"\$\{([A-Z0-9_]+)"#, in: text))
        let example = try EnvironmentFile(path: "\(Deployment.deploy)/env/compose.env.example")
        #expect(
            !interpolated.isEmpty && interpolated == example.keys,
            "compose.yaml uses \(interpolated.sorted()); the example has \(example.keys.sorted())")
    }
}

/// A Containerfile, split into stages of instructions (continuation lines joined).
struct Containerfile {
    struct Stage {
        let from: String
        var instructions: [(name: String, argument: String)] = []

        func all(_ name: String) -> [String] { instructions.filter { $0.name == name }.map(\.argument) }
        func last(_ name: String) -> String? { all(name).last }
        var runs: [String] { all("RUN") }

        /// `ENV KEY=value …` assignments.
        var environment: [String: String] {
            var values: [String: String] = [:]
            for argument in all("ENV") {
                for assignment in argument.split(separator: " ") {
                    let parts = assignment.split(separator: "=", maxSplits: 1)
                    if parts.count == 2 { values[String(parts[0])] = String(parts[1]) }
                }
            }
            return values
        }

        /// The packages of the stage's `apt-get install`.
        func aptPackages() throws -> Set<String> {
            let install = try #require(runs.first { $0.contains("apt-get install") })
            let words = install.components(separatedBy: "apt-get install").last?.components(separatedBy: "&&").first ?? ""
            return Set(words.split(separator: " ").filter { !$0.hasPrefix("-") }.map(String.init))
        }
    }

    /// `ARG` defaults before the first `FROM`.
    private(set) var arguments: [String: String] = [:]
    private(set) var stages: [Stage] = []

    init(path: String) throws {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var logical: [String] = []
        var pending = ""
        for line in text.split(separator: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("#") { continue }
            if trimmed.hasSuffix("\\") {
                pending += trimmed.dropLast().trimmingCharacters(in: .whitespaces) + " "
                continue
            }
            logical.append(pending + trimmed)
            pending = ""
        }
        for line in logical where !line.isEmpty {
            let name = String(line.prefix { $0 != " " })
            let argument = line.dropFirst(name.count).trimmingCharacters(in: .whitespaces)
            if name == "FROM" {
                stages.append(Stage(from: argument))
            } else if stages.isEmpty {
                if name == "ARG" {
                    let parts = argument.split(separator: "=", maxSplits: 1)
                    arguments[String(parts[0])] = parts.count == 2 ? String(parts[1]) : ""
                }
            } else {
                stages[stages.count - 1].instructions.append((name, argument))
            }
        }
    }
}
