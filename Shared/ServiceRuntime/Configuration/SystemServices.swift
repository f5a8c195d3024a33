import Messages

/// One service of the system as the broker sees it: its name (which prefixes its queues), the
/// messages its inbox takes, and where its HTTP port is by default. The services, the ops tool
/// and the deployment definitions all read this one list.
public struct ServiceDescription: Sendable, Hashable {
    /// The instance's name (`registrations`, `registrations-2`).
    public let name: String
    /// The service it is an instance of (`registrations`).
    public let kind: String
    public let consumes: [MessageType]
    /// What its shards are keyed on: everything about one key reaches the same shard.
    public let partition: Partition
    /// Messages every shard needs whatever its keys (reference data, like the programme).
    public let everyShard: [MessageType]
    public let defaultHTTPPort: Int

    public enum Partition: String, Sendable, Hashable {
        case event, recipient

        /// The header the shards' consistent-hash exchange hashes.
        public var header: String { self == .event ? PartitionKeys.eventHeader : PartitionKeys.recipientHeader }
    }

    public init(name: String, kind: String? = nil, consumes: [MessageType], partition: Partition, everyShard: [MessageType] = [], defaultHTTPPort: Int) {
        self.name = name
        self.kind = kind ?? name
        self.consumes = consumes
        self.partition = partition
        self.everyShard = everyShard
        self.defaultHTTPPort = defaultHTTPPort
    }

    /// The queues and exchanges under this service's name on `exchange`.
    public func names(exchange: String = "delegation") -> ServiceNames { ServiceNames(service: name, exchange: exchange) }

    /// How an instance takes its share when the service runs as shards on the domain exchange
    /// `exchange`: through `<exchange>.<kind>.shards`.
    public func sharding(exchange: String = "delegation") -> ServiceTopology.Sharding {
        ServiceTopology.Sharding(exchange: "\(exchange).\(kind).shards", hashHeader: partition.header, everyShard: everyShard)
    }
}

public enum SystemServices {
    public static let registrations = ServiceDescription(
        name: "registrations", consumes: [.registrationSubmitted, .registrationCancelRequested, .programmePublished], partition: .event,
        defaultHTTPPort: 8081)
    public static let itineraries = ServiceDescription(
        name: "itineraries", consumes: [.programmePublished, .registrationAccepted, .registrationCancelled], partition: .event, defaultHTTPPort: 8082)
    public static let notifications = ServiceDescription(
        name: "notifications",
        consumes: [
            .programmePublished, .registrationAccepted, .registrationWaitlisted, .registrationRejected, .registrationCancelled,
            .itineraryPlanned, .itineraryChanged,
        ],
        partition: .recipient, everyShard: [.programmePublished], defaultHTTPPort: 8083)

    public static let all = [registrations, itineraries, notifications]

    /// A service by name: a kind (`registrations`) or an instance of one, as `<P>_NAME` names
    /// instances (`registrations-2`, `notifications-eu`): the kind's messages under its own queues.
    public static func named(_ name: String) -> ServiceDescription? {
        if let kind = all.first(where: { $0.name == name }) { return kind }
        guard let kind = all.first(where: { name.hasPrefix("\($0.name)-") }), name.count > kind.name.count + 1 else { return nil }
        return ServiceDescription(
            name: name, kind: kind.name, consumes: kind.consumes, partition: kind.partition, everyShard: kind.everyShard, defaultHTTPPort: kind.defaultHTTPPort)
    }
}
