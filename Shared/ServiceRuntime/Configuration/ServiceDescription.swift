import Messages

/// One service of the system as the broker sees it: its name (which prefixes its queues), the
/// messages its inbox takes and those it publishes (its router's), and where its HTTP port is by
/// default. Each service
/// declares its own (`RegistrationsService.description`, …); the ops tool, the deployment and
/// the system tests read them all from `SystemServices` (module ServiceCatalog).
public struct ServiceDescription: Sendable, Hashable {
    /// The instance's name (`registrations`, `registrations-2`).
    public let name: String
    /// The service it is an instance of (`registrations`).
    public let kind: String
    public let consumes: [MessageType]
    /// Types it takes only from a replay (not bound to its inbox): what the archive keeps to
    /// rebuild its store in place of a type it does not keep.
    public let replayed: [MessageType]
    /// The types it publishes (its router declares them; the broker grants exactly these).
    public let emits: [MessageType]
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

    public init(
        name: String, kind: String? = nil, consumes: [MessageType], replayed: [MessageType] = [], emits: [MessageType] = [],
        partition: Partition, everyShard: [MessageType] = [], defaultHTTPPort: Int
    ) {
        self.name = name
        self.kind = kind ?? name
        self.consumes = consumes
        self.replayed = replayed
        self.emits = emits
        self.partition = partition
        self.everyShard = everyShard
        self.defaultHTTPPort = defaultHTTPPort
    }

    /// An instance of this service under its own name (`registrations-2`, as `<P>_NAME` names
    /// it): the same messages under its own queues.
    public func instance(named name: String) -> ServiceDescription {
        ServiceDescription(
            name: name, kind: kind, consumes: consumes, replayed: replayed, emits: emits, partition: partition, everyShard: everyShard,
            defaultHTTPPort: defaultHTTPPort)
    }

    /// The queues and exchanges under this service's name on `exchange`.
    public func names(exchange: String = "delegation") -> ServiceNames { ServiceNames(service: name, exchange: exchange) }

    /// How an instance takes its share when the service runs as shards on the domain exchange
    /// `exchange`: through `<exchange>.<kind>.shards`.
    public func sharding(exchange: String = "delegation") -> ServiceTopology.Sharding {
        ServiceTopology.Sharding(exchange: "\(exchange).\(kind).shards", hashHeader: partition.header, everyShard: everyShard)
    }
}
