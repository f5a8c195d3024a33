import Foundation
import Messages
import Passes
import ServiceRuntime

/// The console's settings (README.md, "Configuration"): the shared service settings under
/// `CONSOLE_`, and its own.
public struct ConsoleConfiguration: Sendable {
    public var service: ServiceConfiguration
    /// Templates, translations and static files (`templates/`, `strings/`, `static/`).
    public var assets: String
    /// How long a login lasts.
    public var sessionLifetime: TimeInterval
    /// Cookies only over HTTPS (`Secure`): on unless the console listens on loopback only, where
    /// a browser on the same machine reaches it over plain HTTP.
    public var secureCookies: Bool
    /// The event the pages show; nil: the one whose programme arrived last.
    public var eventID: String?
    /// The X25519 keys the copies of identity documents are sealed to (current first); nil: the
    /// console keeps no document numbers and its manifests offer none.
    public var documentKeys: DocumentKeys?
    /// The queues whose depth the overview shows as parked messages: every service's dead-letter
    /// queue and the queue of messages no service consumes.
    public var parkedQueues: [String]
    /// Sign and check the delegates' passes (the same keys as notifications'); nil: the
    /// manifests show no passes.
    public var passKeys: PassKeys?
    /// Where delegates' leads reach the console (`https://console.example.org`): the alert that
    /// riders were missing when their bus left links to `<it>/answer` for the lead to say who will
    /// not come. nil: the alert carries no link (the lead tells a marshal).
    public var publicURL: String?

    public init(
        service: ServiceConfiguration, assets: String = ConsoleConfiguration.defaultAssets, sessionLifetime: TimeInterval = 12 * 3600,
        secureCookies: Bool = false, eventID: String? = nil, documentKeys: DocumentKeys? = nil, parkedQueues: [String] = [],
        passKeys: PassKeys? = nil, publicURL: String? = nil
    ) {
        self.service = service
        self.assets = assets
        self.sessionLifetime = sessionLifetime
        self.secureCookies = secureCookies
        self.eventID = eventID
        self.documentKeys = documentKeys
        self.parkedQueues = parkedQueues
        self.passKeys = passKeys
        self.publicURL = publicURL
    }

    /// `Services/Console/Assets` of the source tree (the container copies it elsewhere and sets
    /// `CONSOLE_ASSETS`).
    public static let defaultAssets: String = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Assets").path
    }()

    /// `services`: every service's name, whose dead-letter queues `CONSOLE_PARKED_QUEUES` names
    /// by default (the executable knows them; this module does not).
    public static func fromEnvironment(
        _ environment: [String: String] = ProcessInfo.processInfo.environment, services: [String] = []
    ) throws -> ConsoleConfiguration {
        var reader = EnvironmentReader(environment)
        let service = ServiceConfiguration.read(ConsoleService.description, from: &reader)
        let p = "CONSOLE"
        let configuration = ConsoleConfiguration(
            service: service, assets: reader.string("\(p)_ASSETS", default: defaultAssets),
            sessionLifetime: reader.seconds("\(p)_SESSION_LIFETIME", default: 12 * 3600, in: 60...(30 * 86400)),
            secureCookies: reader.boolean("\(p)_SECURE_COOKIES", default: !isLoopback(service.httpHost)),
            eventID: reader.optionalString("\(p)_EVENT"), documentKeys: reader.documentKeys("\(p)_DOCUMENT_KEYS"),
            parkedQueues: reader.optionalString("\(p)_PARKED_QUEUES").map { $0.split(separator: ",").map(String.init) }
                ?? services.map { ServiceNames(service: $0, exchange: service.exchange).deadLetterQueue }
                + [ServiceNames(service: "", exchange: service.exchange).unroutedQueue],
            passKeys: reader.parsed("\(p)_PASS_KEYS") { try PassKeys(spec: $0) },
            publicURL: reader.optionalString("\(p)_PUBLIC_URL").map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 })
        if let url = configuration.publicURL,
            URL(string: url).map({ ["http", "https"].contains($0.scheme ?? "") && $0.host != nil }) != true
        {
            reader.problem("\(p)_PUBLIC_URL='\(url)' is not an http(s) address, e.g. https://console.example.org")
        }
        var isFolder: ObjCBool = false
        if !FileManager.default.fileExists(atPath: configuration.assets + "/templates", isDirectory: &isFolder) || !isFolder.boolValue {
            reader.problem("\(p)_ASSETS='\(configuration.assets)' has no templates folder")
        }
        try reader.validate()
        return configuration
    }
}
