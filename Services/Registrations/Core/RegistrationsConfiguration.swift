import Foundation
import ServiceRuntime

/// The registrations service's settings: the shared ones (`ServiceConfiguration`) plus
///
/// | variable | default | meaning |
/// |---|---|---|
/// | `REGISTRATIONS_IDENTITY_KEYS` | (required) | `id:base64key[,id:base64key…]`, AES-256 keys for identity documents, current first |
/// | `REGISTRATIONS_MAX_DELEGATES` | 50 | delegates per delegation |
/// | `REGISTRATIONS_CANCEL_WAIT` | 900 | seconds a cancellation for an unknown reference waits for its submission |
///
/// A cancellation whose submission has not arrived within `REGISTRATIONS_CANCEL_WAIT` is answered with
/// `unknown_reference`.
public struct RegistrationsConfiguration: Sendable {
    public var service: ServiceConfiguration
    public var vault: IdentityVault
    public var maxDelegates: Int
    public var cancellationWait: Double

    public static let defaultHTTPPort = RegistrationsService.description.defaultHTTPPort

    public init(service: ServiceConfiguration, vault: IdentityVault, maxDelegates: Int = 50, cancellationWait: Double = 900) {
        self.service = service
        self.vault = vault
        self.maxDelegates = maxDelegates
        self.cancellationWait = cancellationWait
    }

    /// Reads the environment; throws one error listing every invalid setting.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws
        -> RegistrationsConfiguration
    {
        var reader = EnvironmentReader(environment)
        let service = ServiceConfiguration.read(RegistrationsService.description, from: &reader)
        let maxDelegates = reader.integer("REGISTRATIONS_MAX_DELEGATES", default: 50, in: 1...500)
        let cancellationWait = reader.seconds("REGISTRATIONS_CANCEL_WAIT", default: 900, in: 0...604_800)
        let vault = reader.identityVault("REGISTRATIONS_IDENTITY_KEYS")
        try reader.validate()
        guard let vault else { throw ConfigurationError(problems: ["REGISTRATIONS_IDENTITY_KEYS is missing"]) }
        return RegistrationsConfiguration(service: service, vault: vault, maxDelegates: maxDelegates, cancellationWait: cancellationWait)
    }
}
