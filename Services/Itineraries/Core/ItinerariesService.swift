import Foundation
import Logging
import ServiceRuntime

/// Assembles the itineraries service: its handler, tables, planner and HTTP routes on the runtime.
public enum ItinerariesService {
    public static func makeHost(_ configuration: ItinerariesConfiguration, logger: Logger, connectPatience: Double = 60) async throws -> ServiceHost {
        try await ServiceHost(
            configuration: configuration.service,
            handler: ItinerariesHandler(vault: configuration.vault),
            logger: logger,
            migrations: ItineraryStore.migrate,
            routes: ItinerariesHTTP.routes(vault: configuration.vault),
            extraServices: { context in [PlanningService(context: context, debounce: configuration.debounce, maxWait: configuration.maxWait)] },
            connectPatience: connectPatience)
    }
}
