import Foundation
import Logging
import ServiceRuntime

/// Assembles the registrations service: its handler, tables and HTTP routes on the runtime.
public enum RegistrationsService {
    public static func makeHost(_ configuration: RegistrationsConfiguration, logger: Logger, connectPatience: Double = 60) async throws -> ServiceHost {
        var validator = RegistrationValidator()
        validator.maxDelegates = configuration.maxDelegates
        return try await ServiceHost(
            configuration: configuration.service,
            handler: RegistrationsHandler(vault: configuration.vault, validator: validator),
            logger: logger,
            migrations: RegistrationStore.migrate,
            routes: RegistrationsHTTP.addRoutes,
            connectPatience: connectPatience)
    }
}
