import Foundation
import Logging
import ServiceRuntime

/// Assembles the notifications service: its handler, tables, delivery workers and HTTP routes.
public enum NotificationsService {
    /// The service as the broker and the deployment see it: what its router consumes and emits,
    /// how its shards are keyed, its HTTP port.
    public static let description = ServiceDescription(
        name: "notifications", consumes: NotificationsHandler.router.consumes, emits: NotificationsHandler.router.emits,
        partition: .recipient, everyShard: [.programmePublished], defaultHTTPPort: 8083)

    /// `renderer`: the templates, loaded from `configuration.templates` when not given.
    public static func makeHost(
        _ configuration: NotificationsConfiguration, renderer: Renderer? = nil, logger: Logger, connectPatience: Double = 60,
        clock: @escaping @Sendable () -> Date = { Date() }
    ) async throws -> ServiceHost {
        let renderer = if let renderer { renderer } else { try await Renderer(directory: configuration.templates) }
        return try await ServiceHost(
            configuration: configuration.service,
            dispatcher: NotificationsHandler(configuration: configuration, clock: clock).dispatcher,
            logger: logger,
            migrations: NotificationStore.migrate,
            routes: { routes, store in
                NotificationsHTTP.addRoutes(to: routes, store: store)
                NotificationsHTTP.addOptOut(to: routes, store: store, configuration: configuration, renderer: renderer, clock: clock)
            },
            extraServices: { context in [DeliveryService(context: context, configuration: configuration, renderer: renderer, clock: clock)]
            },
            connectPatience: connectPatience)
    }
}
