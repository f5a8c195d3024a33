import Foundation
import Logging
import ServiceRuntime

/// Assembles the registrations service: its handler, tables and HTTP routes on the runtime.
public enum RegistrationsService {
    /// The service as the broker and the deployment see it: what its router consumes and emits,
    /// how its shards are keyed, its HTTP port.
    public static let description = ServiceDescription(
        name: "registrations", consumes: RegistrationsHandler.router.consumes, replayed: RegistrationsHandler.router.replayed,
        emits: RegistrationsHandler.router.emits, partition: .event, everyShard: [.registrationDataKeysRequested], defaultHTTPPort: 8081)

    public static func makeHost(_ configuration: RegistrationsConfiguration, logger: Logger, connectPatience: Double = 60) async throws
        -> ServiceHost
    {
        var validator = RegistrationValidator()
        validator.maxDelegates = configuration.maxDelegates
        let handler = RegistrationsHandler(
            vault: configuration.vault, keys: try DataKeyStore(path: configuration.keyStorePath), sealing: configuration.sealing,
            validator: validator,
            cancellationWait: configuration.cancellationWait, logger: logger)
        return try await ServiceHost(
            configuration: configuration.service,
            dispatcher: handler.dispatcher,
            logger: logger,
            migrations: RegistrationStore.migrate,
            routes: RegistrationsHTTP.routes(retention: configuration.retention),
            extraServices: { context in
                [
                    CancellationExpiry(context: context, handler: handler),
                    RetentionSchedule(context: context, handler: handler, retention: configuration.retention),
                ]
            },
            connectPatience: connectPatience)
    }
}
