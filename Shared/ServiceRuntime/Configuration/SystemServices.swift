import Messages

/// One service of the system as the broker sees it: its name (which prefixes its queues), the
/// messages its inbox takes, and where its HTTP port is by default. The services, the ops tool
/// and the deployment definitions all read this one list.
public struct ServiceDescription: Sendable, Hashable {
    public let name: String
    public let consumes: [MessageType]
    public let defaultHTTPPort: Int

    public init(name: String, consumes: [MessageType], defaultHTTPPort: Int) {
        self.name = name
        self.consumes = consumes
        self.defaultHTTPPort = defaultHTTPPort
    }

    /// The queues and exchanges under this service's name on `exchange`.
    public func names(exchange: String = "delegation") -> ServiceNames { ServiceNames(service: name, exchange: exchange) }
}

public enum SystemServices {
    public static let registrations = ServiceDescription(
        name: "registrations", consumes: [.registrationSubmitted, .registrationCancelRequested, .programmePublished], defaultHTTPPort: 8081)
    public static let itineraries = ServiceDescription(
        name: "itineraries", consumes: [.programmePublished, .registrationAccepted, .registrationCancelled], defaultHTTPPort: 8082)
    public static let notifications = ServiceDescription(
        name: "notifications",
        consumes: [
            .programmePublished, .registrationAccepted, .registrationWaitlisted, .registrationRejected, .registrationCancelled,
            .itineraryPlanned, .itineraryChanged,
        ],
        defaultHTTPPort: 8083)

    public static let all = [registrations, itineraries, notifications]

    /// A service by name: a kind (`registrations`) or an instance of one, as `<P>_NAME` names
    /// instances (`registrations-2`, `notifications-eu`): the kind's messages under its own queues.
    public static func named(_ name: String) -> ServiceDescription? {
        if let kind = all.first(where: { $0.name == name }) { return kind }
        guard let kind = all.first(where: { name.hasPrefix("\($0.name)-") }), name.count > kind.name.count + 1 else { return nil }
        return ServiceDescription(name: name, consumes: kind.consumes, defaultHTTPPort: kind.defaultHTTPPort)
    }
}
