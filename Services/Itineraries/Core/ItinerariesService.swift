import Foundation
import Logging
import ServiceRuntime

/// Assembles the itineraries service: its handler, tables, planner and HTTP routes on the runtime.
public enum ItinerariesService {
    /// The service as the broker and the deployment see it: what its router consumes and emits,
    /// how its shards are keyed, its HTTP port.
    public static let description = ServiceDescription(
        name: "itineraries", consumes: ItinerariesHandler.router.consumes, emits: ItinerariesHandler.router.emits, partition: .event,
        defaultHTTPPort: 8082)

    public static func makeHost(_ configuration: ItinerariesConfiguration, logger: Logger, connectPatience: Double = 60) async throws
        -> ServiceHost
    {
        try await ServiceHost(
            configuration: configuration.service,
            dispatcher: ItinerariesHandler(vault: configuration.vault, documentKeys: configuration.documentKeys).dispatcher,
            logger: logger,
            migrations: ItineraryStore.migrate,
            routes: ItinerariesHTTP.routes(vault: configuration.vault),
            extraServices: { context in
                [
                    PlanningService(
                        context: context, debounce: configuration.debounce, maxWait: configuration.maxWait, planner: configuration.planner)
                ]
            },
            connectPatience: connectPatience)
    }
}
