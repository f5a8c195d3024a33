// The notifications service: `notifications` (or `notifications serve`). Configuration comes
// from the environment (README.md).
import ArgumentParser
import Foundation
import Logging
import Messages
import NotificationsCore
import ServiceRuntime

@main
struct Notifications: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notifications",
        abstract: "Tells every person in a delegation what concerns them, once, in their language.",
        subcommands: [Serve.self, CheckConfig.self],
        defaultSubcommand: Serve.self)
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the service until SIGTERM or SIGINT.")

    func run() async throws {
        let configuration = try loadConfiguration()
        StructuredLogHandler.bootstrap(level: configuration.service.logLevel, format: configuration.service.logFormat)
        let logger = Logger(label: "notifications")
        logger.info("starting", metadata: ["store": "\(configuration.service.storePath)", "broker": "\(configuration.service.amqp)", "smtp": "\(configuration.smtp.host):\(configuration.smtp.port)"])
        let renderer = try await loadTemplates(configuration)
        try await NotificationsService.makeHost(configuration, renderer: renderer, logger: logger).run()
    }
}

struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "check-config", abstract: "Validate the environment and print the settings (no secrets).")

    func run() async throws {
        let c = try loadConfiguration()
        let renderer = try await loadTemplates(c)
        let languages = NotificationKind.allCases.map { kind in
            "\(kind.rawValue) (\(Language.allCases.filter { renderer.language(for: kind, wanted: $0) == $0 }.map(\.rawValue).joined(separator: ", ")))"
        }
        print("""
            broker:        \(c.service.amqp)
            store:         \(c.service.storePath)
            http:          \(c.service.httpHost):\(c.service.httpPort)
            smtp:          \(c.smtp.host):\(c.smtp.port) (\(c.smtp.security.rawValue)\(c.smtp.username == nil ? "" : ", auth"))
            webhook:       \(c.webhook?.url.absoluteString ?? "none")
            channels:      \(c.channelOrder.map { "\($0.key)=\($0.value.map(\.rawValue).joined(separator: ","))" }.sorted().joined(separator: "; "))
            templates:     \(c.templates)
                           \(languages.joined(separator: "; "))
            retries:       \(c.maxAttempts) per channel, \(c.retryBase)–\(c.retryMax) s
            digest window: \(c.digestWindow) s; quiet hours: \(c.quietHours.map { String(format: "%02d:%02d-%02d:%02d", $0.start / 60, $0.start % 60, $0.end / 60, $0.end % 60) } ?? "off")
            """)
    }
}

/// The templates, or exit 78 with the file at fault.
func loadTemplates(_ configuration: NotificationsConfiguration) async throws -> Renderer {
    do {
        return try await Renderer(directory: configuration.templates)
    } catch {
        FileHandle.standardError.write(Data("notifications: \(error)\n".utf8))
        throw ExitCode(78)
    }
}

func loadConfiguration() throws -> NotificationsConfiguration {
    do {
        return try NotificationsConfiguration.fromEnvironment()
    } catch {
        FileHandle.standardError.write(Data("notifications: \(error)\n".utf8))
        throw ExitCode(78)
    }
}
