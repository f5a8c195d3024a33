import Foundation
import Messages
import ServiceRuntime

/// The registrations service's settings: the shared ones (`ServiceConfiguration`) plus
///
/// | variable | default | meaning |
/// |---|---|---|
/// | `REGISTRATIONS_IDENTITY_KEYS` | (required) | `id:base64key[,id:base64key…]`, AES-256 keys for identity documents, current first |
/// | `REGISTRATIONS_MAX_DELEGATES` | 50 | delegates per delegation |
/// | `REGISTRATIONS_CANCEL_WAIT` | 900 | seconds a cancellation for an unknown reference waits for its submission |
/// | `REGISTRATIONS_DOCUMENT_KEYS` | (none) | `id:base64[,…]`, X25519 private keys opening sealed identity documents (HPKE), current first |
/// | `REGISTRATIONS_ITINERARIES_DOCUMENT_KEY` | (none: plain) | `id:base64`, itineraries' public key for `registration.accepted` |
/// | `REGISTRATIONS_CONSOLE_DOCUMENT_KEY` | (none: no copy) | `id:base64`, the console's public key: a copy of each document for it |
/// | `REGISTRATIONS_REQUIRE_SEALED_DOCUMENTS` | false | plain identity documents in a submission are a validation error |
/// | `REGISTRATIONS_RETENTION_DAYS` | 90 | days after an event's last day when its personal data is erased everywhere |
/// | `REGISTRATIONS_KEY_STORE_PATH` | the store's path with `.keys` added | the SQLite file of each registration's data key (`DataKeyStore`) |
///
/// A cancellation whose submission has not arrived within `REGISTRATIONS_CANCEL_WAIT` is answered with
/// `unknown_reference`.
public struct RegistrationsConfiguration: Sendable {
    public var service: ServiceConfiguration
    public var vault: IdentityVault
    public var maxDelegates: Int
    public var cancellationWait: Double
    public var sealing: DocumentSealing
    /// Seconds after an event ends when its registrations are erased.
    public var retention: Double
    /// The data keys' file.
    public var keyStorePath: String

    public static let defaultHTTPPort = RegistrationsService.description.defaultHTTPPort

    public init(
        service: ServiceConfiguration, vault: IdentityVault, maxDelegates: Int = 50, cancellationWait: Double = 900,
        sealing: DocumentSealing = DocumentSealing(), retention: Double = 90 * 86400, keyStorePath: String? = nil
    ) {
        self.service = service
        self.vault = vault
        self.maxDelegates = maxDelegates
        self.cancellationWait = cancellationWait
        self.sealing = sealing
        self.retention = retention
        self.keyStorePath = keyStorePath ?? service.storePath + ".keys"
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
        let sealing = DocumentSealing(
            keys: reader.documentKeys("REGISTRATIONS_DOCUMENT_KEYS"),
            itineraries: reader.documentPublicKey("REGISTRATIONS_ITINERARIES_DOCUMENT_KEY"),
            console: reader.documentPublicKey("REGISTRATIONS_CONSOLE_DOCUMENT_KEY"),
            requireSealed: reader.boolean("REGISTRATIONS_REQUIRE_SEALED_DOCUMENTS", default: false))
        let retentionDays = reader.integer("REGISTRATIONS_RETENTION_DAYS", default: 90, in: 1...3650)
        let keyStorePath = reader.string("REGISTRATIONS_KEY_STORE_PATH", default: service.storePath + ".keys")
        if sealing.requireSealed, sealing.keys == nil {
            reader.problem("REGISTRATIONS_REQUIRE_SEALED_DOCUMENTS needs REGISTRATIONS_DOCUMENT_KEYS (the key integrations seal to)")
        }
        try reader.validate()
        guard let vault else { throw ConfigurationError(problems: ["REGISTRATIONS_IDENTITY_KEYS is missing"]) }
        return RegistrationsConfiguration(
            service: service, vault: vault, maxDelegates: maxDelegates, cancellationWait: cancellationWait, sealing: sealing,
            retention: Double(retentionDays) * 86400, keyStorePath: keyStorePath)
    }
}
