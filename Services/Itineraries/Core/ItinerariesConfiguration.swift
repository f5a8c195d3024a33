import Foundation
import ItineraryPlanner
import Messages
import ServiceRuntime

/// The itineraries service's settings: the shared ones (`ServiceConfiguration`, prefix
/// `ITINERARIES`) plus
///
/// | variable | default | meaning |
/// |---|---|---|
/// | `ITINERARIES_IDENTITY_KEYS` | (required) | AES-256 keys sealing the identity documents kept for access lists, current first |
/// | `ITINERARIES_DOCUMENT_KEYS` | (none) | `id:base64[,…]`, X25519 keys opening the documents sealed to itineraries |
/// | `ITINERARIES_PLAN_DEBOUNCE` | 0.5 | seconds of quiet after a change before re-planning |
/// | `ITINERARIES_PLAN_MAX_WAIT` | 5 | re-plan at the latest this long after the first unplanned change |
/// | `ITINERARIES_PLAN_SEARCH_ITERATIONS` | 4000 | a fresh plan's search budget (the same input and budget give the same plan) |
/// | `ITINERARIES_PLAN_SEARCH_SECONDS` | 1.5 | the longest a fresh plan's search runs (small events finish sooner) |
///
/// `ITINERARIES_IDENTITY_KEYS` is written `id:base64key[,…]`.
public struct ItinerariesConfiguration: Sendable {
    public var service: ServiceConfiguration
    public var vault: IdentityVault
    public var documentKeys: DocumentKeys?
    public var debounce: Double
    public var maxWait: Double
    /// The planner's search budget (`Planner.searchIterations`) and its cap (`searchTimeLimit`).
    public var searchIterations: Int
    public var searchSeconds: Double

    public static let defaultHTTPPort = ItinerariesService.description.defaultHTTPPort

    public init(
        service: ServiceConfiguration, vault: IdentityVault, debounce: Double = 0.5, maxWait: Double = 5, searchIterations: Int = 4000,
        searchSeconds: Double = 1.5, documentKeys: DocumentKeys? = nil
    ) {
        self.service = service
        self.vault = vault
        self.documentKeys = documentKeys
        self.debounce = debounce
        self.maxWait = maxWait
        self.searchIterations = searchIterations
        self.searchSeconds = searchSeconds
    }

    /// The planner these settings ask for.
    public var planner: Planner {
        var planner = Planner()
        planner.searchIterations = searchIterations
        planner.searchTimeLimit = .milliseconds(Int((searchSeconds * 1000).rounded()))
        return planner
    }

    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws
        -> ItinerariesConfiguration
    {
        var reader = EnvironmentReader(environment)
        let service = ServiceConfiguration.read(ItinerariesService.description, from: &reader)
        let debounce = reader.seconds("ITINERARIES_PLAN_DEBOUNCE", default: 0.5, in: 0...60)
        let maxWait = reader.seconds("ITINERARIES_PLAN_MAX_WAIT", default: 5, in: 0...600)
        let searchIterations = reader.integer("ITINERARIES_PLAN_SEARCH_ITERATIONS", default: 4000, in: 0...10_000_000)
        let searchSeconds = reader.seconds("ITINERARIES_PLAN_SEARCH_SECONDS", default: 1.5, in: 0.05...600)
        let vault = reader.identityVault("ITINERARIES_IDENTITY_KEYS")
        let documentKeys = reader.documentKeys("ITINERARIES_DOCUMENT_KEYS")
        try reader.validate()
        guard let vault else { throw ConfigurationError(problems: ["ITINERARIES_IDENTITY_KEYS is missing"]) }
        return ItinerariesConfiguration(
            service: service, vault: vault, debounce: debounce, maxWait: maxWait, searchIterations: searchIterations,
            searchSeconds: searchSeconds, documentKeys: documentKeys)
    }
}
