// The notifications service: `notifications` (or `notifications serve`). Configuration comes
// from the environment (README.md).
import ArgumentParser
import Foundation
import Logging
import Messages
import NotificationsCore
import ServiceCommand
import ServiceRuntime

@main
struct Notifications: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notifications",
        abstract: "Tells every person in a delegation what concerns them, once, in their language.",
        subcommands: [
            Serve<NotificationsExecutable>.self, Tokens<NotificationsExecutable>.self, CheckConfig<NotificationsExecutable>.self,
        ],
        defaultSubcommand: Serve<NotificationsExecutable>.self)
}

/// The notifications service as an executable: `serve` and `check-config` come from
/// ServiceCommand. A template that does not parse, or a missing English one, stops it at start.
enum NotificationsExecutable: ServiceExecutable {
    static let name = "notifications"

    static func configuration(from environment: [String: String]) throws -> NotificationsConfiguration {
        try NotificationsConfiguration.fromEnvironment(environment)
    }

    static func service(_ configuration: NotificationsConfiguration) -> ServiceConfiguration { configuration.service }

    static func openStore(_ configuration: NotificationsConfiguration) throws -> ServiceStore {
        try ServiceStore(
            path: configuration.service.storePath, synchronous: configuration.service.synchronous, migrations: NotificationStore.migrate)
    }

    static func serve(_ configuration: NotificationsConfiguration, logger: Logger) async throws {
        logger.info("mail relay", metadata: ["smtp": "\(configuration.smtp.host):\(configuration.smtp.port)"])
        try await NotificationsService.makeHost(configuration, renderer: try await templates(configuration), logger: logger).run()
    }

    static func settings(_ c: NotificationsConfiguration) async throws -> [(String, String)] {
        let renderer = try await templates(c)
        let languages = NotificationKind.allCases.map { kind in
            let available = Language.allCases.filter { renderer.language(for: kind, wanted: $0) == $0 }
            return "\(kind.rawValue) (\(available.map(\.rawValue).joined(separator: ", ")))"
        }
        return [
            ("smtp", "\(c.smtp.host):\(c.smtp.port) (\(c.smtp.security.rawValue)\(c.smtp.username == nil ? "" : ", auth"))"),
            ("channels set up", c.channels.names.map(\.rawValue).joined(separator: ", ")),
            (
                "channel order",
                c.channels.order.map { "\($0.key)=\($0.value.map(\.rawValue).joined(separator: ","))" }.sorted().joined(separator: "; ")
            ),
            ("templates", c.templates),
            ("languages", languages.joined(separator: "; ")),
            ("retries", "\(c.maxAttempts) per channel, \(c.retryBase)–\(c.retryMax) s"),
            ("digest window", "\(c.digestWindow) s"),
            (
                "quiet hours",
                c.quietHours.map { String(format: "%02d:%02d-%02d:%02d", $0.start / 60, $0.start % 60, $0.end / 60, $0.end % 60) } ?? "off"
            ),
        ]
    }

    /// The templates; one that does not parse is a configuration problem naming its file.
    static func templates(_ configuration: NotificationsConfiguration) async throws -> Renderer {
        do {
            return try await Renderer(directory: configuration.templates)
        } catch {
            throw ConfigurationError(problems: ["NOTIFICATIONS_TEMPLATES: \(error)"])
        }
    }
}
