import Foundation
import Logging
import ServiceRuntime

/// Assembles the console: its read model's handler and tables, and its pages, on the runtime.
public enum ConsoleService {
    /// The service as the broker and the deployment see it: what it consumes (to show), what it
    /// publishes (the organisers' commands), its HTTP port.
    public static let description = ServiceDescription(
        name: "console", consumes: ConsoleHandler.router.consumes, emits: ConsoleHandler.router.emits, partition: .event,
        defaultHTTPPort: 8084)

    public static func makeHost(
        _ configuration: ConsoleConfiguration, pages: ConsolePages, logger: Logger, connectPatience: Double = 60
    ) async throws -> ServiceHost {
        let parked = ParkedMessages(queues: configuration.parkedQueues)
        return try await ServiceHost(
            configuration: configuration.service, dispatcher: ConsoleHandler(documentKeys: configuration.documentKeys).dispatcher,
            logger: logger, migrations: ConsoleStore.migrate,
            routes: ConsoleHTTP.routes(configuration: configuration, pages: pages, parked: parked),
            extraServices: { context in
                [
                    parked.watcher(amqp: context.configuration.amqp, logger: context.logger),
                    MissingRiders.watcher(
                        store: context.store, configuration: configuration, outbox: context.outbox, logger: context.logger),
                ]
            },
            connectPatience: connectPatience)
    }
}
