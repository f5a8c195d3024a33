import AMQP
import Foundation
import TestSupport
import Testing

/// `deploy/env/<service>.env.example`: every setting the service reads, and nothing else, with
/// values its own `check-config` accepts.
@Suite struct EnvironmentExampleTests {
    /// The further channels' settings (each channel runs only when they are given) and the
    /// opt-out links'.
    static let notificationChannels = Set(
        [
            "SMS_ACCOUNT_SID", "SMS_AUTH_TOKEN", "SMS_FROM", "SMS_MESSAGING_SERVICE", "SMS_URL", "ZALO_APP_ID", "ZALO_SECRET_KEY",
            "ZALO_REFRESH_TOKEN", "ZALO_TEMPLATES", "ZALO_API_URL", "ZALO_OAUTH_URL", "WECHAT_APP_ID", "WECHAT_APP_SECRET",
            "WECHAT_TEMPLATES", "WECHAT_API_URL", "PUBLIC_URL", "LINK_KEY",
        ].map { "NOTIFICATIONS_\($0)" })

    @Test(arguments: Deployment.services)
    func theExampleListsEveryVariableTheServiceReadsAndNoOther(_ service: Deployment.Service) throws {
        let example = try EnvironmentFile(path: service.environmentExample)
        let read = try service.variablesRead()
        #expect(read.count > 15, "found the configuration readers in the sources: \(read.sorted())")
        #expect(example.keys.subtracting(read).isEmpty, "set but never read (a typo?): \(example.keys.subtracting(read).sorted())")
        let listed = example.keys.union(example.commented)
        #expect(read.subtracting(listed).isEmpty, "read but not in the example: \(read.subtracting(listed).sorted())")
        // Left at their defaults, commented out: the alternative URL, optional integrations, and
        // the fault injection, which must never be set in production.
        let optional = Set([
            "\(service.prefix)_AMQP_URL", "\(service.prefix)_FAULT", "\(service.prefix)_HTTP_TLS_CERTIFICATE",
            "\(service.prefix)_HTTP_TLS_KEY",
            "NOTIFICATIONS_SMTP_CA_FILE", "NOTIFICATIONS_WEBHOOK_URL", "\(service.prefix)_DOCUMENT_KEYS",
            "REGISTRATIONS_ITINERARIES_DOCUMENT_KEY", "REGISTRATIONS_CONSOLE_DOCUMENT_KEY", "REGISTRATIONS_REQUIRE_SEALED_DOCUMENTS",
            "NOTIFICATIONS_WEBHOOK_SECRET", "NOTIFICATIONS_PASS_KEYS", "CONSOLE_PASS_KEYS", "CONSOLE_EVENT", "CONSOLE_PARKED_QUEUES",
            "CONSOLE_PUBLIC_URL",
        ]).union(Self.notificationChannels)
        #expect(
            example.commented.intersection(read).isSubset(of: optional), "commented out: \(example.commented.intersection(read).sorted())")
        #expect(example.commented.contains("\(service.prefix)_FAULT") && !example.keys.contains("\(service.prefix)_FAULT"))
        #expect(example.assignments.count == example.keys.count, "each variable is set once")
        // systemd and compose read quotes and trailing comments differently: use neither.
        for (key, value) in example.assignments {
            #expect(!value.contains("\"") && !value.contains("'") && !value.contains(" #"), "\(key)=\(value)")
            #expect(value == value.trimmingCharacters(in: .whitespaces), "\(key) has no surrounding blanks")
        }
    }

    @Test(arguments: Deployment.services)
    func theExamplePassesTheServicesOwnCheckConfig(_ service: Deployment.Service) async throws {
        let (status, output) = try await Self.checkConfig(
            service, Self.runnable(try EnvironmentFile(path: service.environmentExample), service))
        #expect(status == 0, "check-config: \(output)")
        // The settings it reports are the example's: its own broker user on the delegation vhost.
        #expect(Self.setting("broker", in: output) == "amqp://\(service.name)@127.0.0.1:5672/delegation")
        #expect(Self.setting("http", in: output) == "127.0.0.1:\(service.defaultHTTPPort)")
        #expect(Self.setting("store", in: output)?.hasPrefix("/var/lib/delegation/\(service.name)/\(service.name).sqlite") == true)
    }

    @Test(
        arguments: Deployment.services.filter {
            (try? EnvironmentFile(path: $0.environmentExample).keys.contains("\($0.prefix)_IDENTITY_KEYS")) == true
        })
    func theIdentityKeyPlaceholderIsRefusedUntilARealKeyReplacesIt(_ service: Deployment.Service) async throws {
        var environment = Self.runnable(try EnvironmentFile(path: service.environmentExample), service)
        let key = "\(service.prefix)_IDENTITY_KEYS"
        environment[key] = try EnvironmentFile(path: service.environmentExample).values[key]
        let (status, output) = try await Self.checkConfig(service, environment)
        #expect(status == 78, "the placeholder is not a usable key: \(output)")
        #expect(output.contains("\(key): key 'k1' must be 32 bytes"))
    }

    @Test(arguments: Deployment.services)
    func secretsFromFilesAndCredentialsAreUsedAndNeverPrinted(_ service: Deployment.Service) async throws {
        let credentials = try TemporaryFolder("credentials")
        defer { withExtendedLifetime(credentials) {} }
        let folder = credentials.url
        var environment = Self.runnable(try EnvironmentFile(path: service.environmentExample), service)
        // The broker URL from AMQP_URL_FILE, the identity keys (where the service has them) as a
        // systemd credential.
        let password = "pw-\(UUID().uuidString.prefix(12))"
        let url = folder.appendingPathComponent("amqp-url")
        try Data("amqp://\(service.name):\(password)@127.0.0.1:5672/delegation\n".utf8).write(to: url)
        environment["AMQP_URL"] = nil
        environment["AMQP_URL_FILE"] = url.path
        environment["CREDENTIALS_DIRECTORY"] = folder.path
        let keys = "\(service.prefix)_IDENTITY_KEYS"
        let key = environment.removeValue(forKey: keys)
        if let key { try Data(key.utf8).write(to: folder.appendingPathComponent(keys)) }
        let (status, output) = try await Self.checkConfig(service, environment)
        #expect(status == 0, "check-config: \(output)")
        #expect(Self.setting("broker", in: output) == "amqp://\(service.name)@127.0.0.1:5672/delegation")
        #expect(!output.contains(password), "the password is never printed")
        if let key { #expect(!output.contains(String(key.dropFirst(3))), "nor the identity key") }
    }

    @Test func theExamplesAgreeWithEachOtherAndWithTheBrokerDefinitions() throws {
        let definitions = try Deployment.definitions()
        let vhost = try #require((definitions["vhosts"] as? [[String: Any]])?.first?["name"] as? String)
        let policies = try #require(definitions["policies"] as? [[String: Any]])
        let archive = try #require(policies.first { $0["name"] as? String == "delegation-archive" }?["definition"] as? [String: Any])
        let inboxes = try #require(policies.first { $0["name"] as? String == "delegation-inboxes" }?["definition"] as? [String: Any])
        for service in Deployment.services {
            let values = try EnvironmentFile(path: service.environmentExample).values
            // Every service declares the exchange and the stream: the same arguments everywhere.
            #expect(values["EXCHANGE"] == "delegation", "\(service.name)")
            #expect(
                values["ARCHIVE_MAX_AGE"] == archive["max-age"] as? String,
                "\(service.name): ARCHIVE_MAX_AGE is the archive policy's max-age")
            #expect(
                values["\(service.prefix)_DELIVERY_LIMIT"].flatMap(Int.init) == inboxes["delivery-limit"] as? Int,
                "\(service.name): one delivery limit")
            // The permissions are written for the default instance name.
            #expect(values["\(service.prefix)_NAME"] == service.name)
            let url = try AMQPConfiguration(url: try #require(values["AMQP_URL"]))
            #expect(url.user == service.name && url.virtualHost == vhost, "\(service.name) connects as itself to \(vhost)")
            #expect(url.password == "CHANGE_ME", "\(service.name): the password is a placeholder")
            #expect(values["LOG_FORMAT"] == "json")
        }
    }

    // MARK: Running check-config

    /// The example as a service would run with it once installed: real identity keys instead of
    /// the placeholders, and the templates and assets from this checkout instead of their install path.
    static func runnable(_ example: EnvironmentFile, _ service: Deployment.Service) -> [String: String] {
        var environment = example.values
        for key in environment.keys where key.hasSuffix("_IDENTITY_KEYS") {
            environment[key] = "k1:" + Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        }
        if environment["NOTIFICATIONS_TEMPLATES"] != nil {
            environment["NOTIFICATIONS_TEMPLATES"] = "\(Deployment.root)/Services/Notifications/Templates"
        }
        if environment["CONSOLE_ASSETS"] != nil { environment["CONSOLE_ASSETS"] = "\(Deployment.root)/Services/Console/Assets" }
        return environment
    }

    /// Runs `<service> check-config` with exactly `environment` (nothing inherited).
    static func checkConfig(_ service: Deployment.Service, _ environment: [String: String]) async throws -> (status: Int32?, output: String)
    {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("check-config-\(service.name)-\(UUID().uuidString).log")
        defer { try? FileManager.default.removeItem(at: log) }
        let process = try ServiceProcess(
            executable: ServiceTestBed.executable(service.name), arguments: ["check-config"], environment: environment, logFile: log)
        let status = await process.wait(within: 30)
        if status == nil { process.signal(SIGKILL) }
        return (status, process.log)
    }

    /// The value of a `name: value` line of check-config's report.
    static func setting(_ name: String, in report: String) -> String? {
        report.split(separator: "\n").first { $0.hasPrefix("\(name):") }.map {
            $0.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces).split(separator: " ").first.map(String.init) ?? ""
        }
    }
}
