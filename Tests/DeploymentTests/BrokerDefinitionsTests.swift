import AMQP
import Foundation
import Messages
import ServiceRuntime
import TestSupport
import Testing

/// `deploy/rabbitmq/definitions.json` read without a broker: every user's permissions, over
/// every name the system uses, are exactly what the code needs (derived from `ServiceTopology`,
/// the pipeline's copies and the outbox), and topic permissions follow what each handler emits.
@Suite struct BrokerDefinitionsTests {
    /// The permissions a user needs, as sets of resource names (exchanges and queues alike).
    struct Needs: Equatable {
        var configure: Set<String> = []
        var write: Set<String> = []
        var read: Set<String> = []

        static func + (lhs: Needs, rhs: Needs) -> Needs {
            Needs(configure: lhs.configure.union(rhs.configure), write: lhs.write.union(rhs.write), read: lhs.read.union(rhs.read))
        }
    }

    /// The topology a service declares at start (ServiceHost), with the example's settings.
    static func topologies(_ service: Deployment.Service) throws -> (domain: Topology, own: Topology, names: ServiceNames) {
        let settings = try EnvironmentFile(path: service.environmentExample).values
        let names = ServiceNames(
            service: settings["\(service.prefix)_NAME"] ?? service.name, exchange: settings["EXCHANGE"] ?? "delegation")
        let delays = (settings["\(service.prefix)_RETRY_DELAYS"] ?? "1,5,30,120").split(separator: ",").compactMap { Double($0) }
        let domain = ServiceTopology.domain(exchange: names.exchange, archiveMaxAge: settings["ARCHIVE_MAX_AGE"] ?? "30D")
        let deliveryLimit = Int(settings["\(service.prefix)_DELIVERY_LIMIT"] ?? "5") ?? 5
        let own = ServiceTopology.service(names, consumes: Array(service.consumes), retryDelays: delays, deliveryLimit: deliveryLimit)
        return (domain, own, names)
    }

    /// The same service run as two shards (`<service>-1`, `<service>-2`, `<P>_SHARDED=true`).
    static func shardTopologies(_ service: Deployment.Service) throws -> [(own: Topology, names: ServiceNames)] {
        let (_, own, names) = try topologies(service)
        let delays = own.queues.compactMap(\.messageTTL).map { Double($0) / 1000 }
        let deliveryLimit = Int(own.queues.first { $0.name == names.inbox }?.deliveryLimit ?? 5)
        return (1...2).map { index in
            let shard = ServiceNames(service: "\(service.name)-\(index)", exchange: names.exchange)
            return (
                ServiceTopology.service(
                    shard, consumes: Array(service.consumes), retryDelays: delays, deliveryLimit: deliveryLimit,
                    sharding: service.system.sharding(exchange: names.exchange)), shard
            )
        }
    }

    static func declared(_ topology: Topology) -> Set<String> {
        Set(topology.exchanges.map(\.name) + topology.queues.map(\.name))
    }

    /// What declaring `topology` takes: configure on each name; for a binding, write on the
    /// queue (or destination exchange) and read on the (source) exchange; for a queue with a
    /// dead-letter exchange, read on the queue and write on that exchange (`""` is `amq.default`);
    /// for an exchange with an alternate exchange, read on it and write on the alternate.
    static func declaring(_ topology: Topology) -> Needs {
        let dlx = topology.queues.filter { $0.deadLetterExchange != nil }
        let alternates = topology.exchanges.compactMap { exchange in
            exchange.arguments["alternate-exchange"]?.stringValue.map { (exchange: exchange.name, alternate: $0) }
        }
        return Needs(
            configure: declared(topology),
            write: Set(
                topology.bindings.map(\.queue) + topology.exchangeBindings.map(\.destination)
                    + dlx.map { $0.deadLetterExchange == "" ? "amq.default" : $0.deadLetterExchange ?? "" } + alternates.map(\.alternate)),
            read: Set(
                topology.bindings.map(\.exchange) + topology.exchangeBindings.map(\.source) + dlx.map(\.name) + alternates.map(\.exchange)))
    }

    /// A service: declare its topology and the domain's (ServiceHost); publish to the domain
    /// exchange (outbox), to its dead-letter exchange and, for retries, to the default exchange
    /// (MessagePipeline); consume its inbox.
    static func serviceNeeds(_ service: Deployment.Service) throws -> Needs {
        let (domain, own, names) = try topologies(service)
        return try ([(own, names)] + shardTopologies(service)).reduce(declaring(domain)) { needs, instance in
            needs + declaring(instance.own)
                + Needs(write: ["amq.default", instance.names.exchange, instance.names.deadLetterExchange], read: [instance.names.inbox])
        }
    }

    /// The ops tool: apply every topology (which, for queues with a dead-letter exchange, takes
    /// read on the queue: the inboxes too), read dead letters and the archive, publish to inboxes
    /// (default exchange), to the domain exchange and, re-sharding, to a service's shards exchange.
    static func opsNeeds() throws -> Needs {
        var needs = Needs(write: ["amq.default"])
        for service in Deployment.services {
            let (domain, own, names) = try topologies(service)
            needs =
                needs + declaring(domain) + declaring(own)
                + Needs(
                    write: [names.exchange, service.system.sharding(exchange: names.exchange).exchange],
                    read: [names.deadLetterQueue, names.archive, names.unroutedQueue])
            for shard in try shardTopologies(service) { needs = needs + declaring(shard.own) + Needs(read: [shard.names.deadLetterQueue]) }
        }
        return needs
    }

    /// Every name in play, plus look-alikes no regex may let through.
    static func universe() throws -> Set<String> {
        var names: Set<String> = [
            "amq.default", "amq.topic", "amq.direct", "delegationXarchive", "delegation.archive.old", "x.delegation",
            "delegation.unrouted.x", "delegation.unrouted.messages.x",
            "delegation.type-checkX",
        ]
        for service in Deployment.services {
            let (domain, own, serviceNames) = try topologies(service)
            names.formUnion(declared(domain).union(declared(own)))
            for shard in try shardTopologies(service) { names.formUnion(declared(shard.own)) }
            names.formUnion([
                "\(service.name)Xinbox", "\(service.name).inbox.copy", "x.\(service.name).inbox", "\(service.name)-x.inbox",
                "\(service.name)-.inbox",
                serviceNames.retryQueue(1) + "x", "delegation.\(service.name).shards.x", "\(service.name).shards",
            ])
        }
        return names
    }

    static func permissions() throws -> [String: [String: String]] {
        let entries = try #require(try Deployment.definitions()["permissions"] as? [[String: String]])
        return Dictionary(entries.map { ($0["user"] ?? "", $0) }, uniquingKeysWith: { first, _ in first })
    }

    static func check(_ user: String, _ needs: Needs) throws {
        let permission = try #require(try permissions()[user], "\(user) has permissions")
        #expect(permission["vhost"] == "delegation")
        for name in try universe().sorted() {
            #expect(Deployment.permits(permission["configure"] ?? "", name) == needs.configure.contains(name), "\(user) configure \(name)")
            #expect(Deployment.permits(permission["write"] ?? "", name) == needs.write.contains(name), "\(user) write \(name)")
            #expect(Deployment.permits(permission["read"] ?? "", name) == needs.read.contains(name), "\(user) read \(name)")
        }
    }

    @Test(arguments: Deployment.services)
    func theRouterDeclaresEveryTypeTheServiceBuilds(_ service: Deployment.Service) throws {
        #expect(!(try service.emits()).isEmpty)
        #expect(try service.emits() == service.built(), "what \(service.name)'s router declares is what its code emits")
    }

    @Test(arguments: Deployment.services)
    func aServiceUserMayTouchItsOwnTopologyAndTheDomainsOnly(_ service: Deployment.Service) throws {
        try Self.check(service.name, try Self.serviceNeeds(service))
    }

    @Test func theOpsUserAppliesEveryTopologyAndReadsDeadLettersAndTheArchive() throws {
        try Self.check("delegation-ops", try Self.opsNeeds())
    }

    @Test func theIntegrationUserMayOnlyPublishToTheDomainExchange() throws {
        try Self.check("integration", Needs(write: ["delegation"]))
    }

    @Test func topicPermissionsLetEachUserPublishOnlyTheTypesItsCodeEmits() throws {
        let entries = try #require(try Deployment.definitions()["topic_permissions"] as? [[String: String]])
        let topics = Dictionary(entries.map { ($0["user"] ?? "", $0) }, uniquingKeysWith: { first, _ in first })
        var publishes: [String: Set<MessageType>] = [
            "integration": Deployment.integrationPublishes, "delegation-ops": Set(MessageType.allCases),
        ]
        var binds: [String: Set<String>] = ["integration": [], "delegation-ops": ["#"]]
        for service in Deployment.services {
            let emits = try service.emits()
            #expect(!emits.isEmpty, "found what \(service.name) emits")
            publishes[service.name] = emits
            binds[service.name] = Set(service.consumes.map(\.rawValue)).union(["#"])  // the inbox and the archive
        }
        #expect(
            publishes["registrations"] == [
                .registrationAccepted, .registrationWaitlisted, .registrationRejected, .registrationCancelled, .registrationErased,
                .registrationEraseRequested, .registrationRecorded, .registrationDataKey,
            ])
        for (user, types) in publishes.sorted(by: { $0.key < $1.key }) {
            let topic = try #require(topics[user], "\(user) has topic permissions")
            #expect(topic["vhost"] == "delegation" && topic["exchange"] == "delegation")
            for type in MessageType.allCases {
                #expect(
                    Deployment.permits(topic["write"] ?? "", type.rawValue) == types.contains(type), "\(user) publishes \(type.rawValue)")
            }
            for key in binds[user] ?? [] {
                #expect(Deployment.permits(topic["read"] ?? "", key), "\(user) binds with \(key)")
            }
        }
        #expect(!Deployment.permits(topics["integration"]?["read"] ?? "", "#"))
    }

    @Test func policiesCoverTheInboxesTheRetryQueuesAndTheArchiveAndNothingElse() throws {
        let policies = try #require(try Deployment.definitions()["policies"] as? [[String: Any]])
        var expected: [String: String] = [:]
        for service in Deployment.services {
            let (domain, own, names) = try Self.topologies(service)
            for instance in try [(own, names)] + Self.shardTopologies(service) {
                expected[instance.names.inbox] = "delegation-inboxes"
                for queue in instance.own.queues where queue.name.hasPrefix("\(instance.names.service).retry.") {
                    expected[queue.name] = "delegation-retries"
                }
            }
            for queue in domain.queues where queue.kind == .stream { expected[queue.name] = "delegation-archive" }
        }
        for name in try Self.universe().sorted() {
            let applying = policies.filter { Deployment.permits($0["pattern"] as? String ?? "", name) }.compactMap { $0["name"] as? String }
            #expect(applying == expected[name].map { [$0] } ?? [], "policies on \(name)")
        }
        for policy in policies {
            #expect(policy["vhost"] as? String == "delegation" && policy["apply-to"] as? String == "queues")
        }
    }

    @Test func theReadmeShowsEachUsersPermissionsAsTheyAre() throws {
        let readme = try String(contentsOfFile: "\(Deployment.deploy)/README.md", encoding: .utf8)
        let definitions = try Deployment.definitions()
        let topics = try #require(definitions["topic_permissions"] as? [[String: String]])
        for permission in try #require(definitions["permissions"] as? [[String: String]]) {
            let user = permission["user"] ?? ""
            let topic = topics.first { $0["user"] == user } ?? [:]
            let block = """
                \(user)
                  configure  \(permission["configure"] ?? "")
                  write      \(permission["write"] ?? "")
                  read       \(permission["read"] ?? "")
                  topic      write \(topic["write"] ?? "")   read \(topic["read"] ?? "")

                """
            #expect(readme.contains("\n" + block), "deploy/README.md shows \(user)'s permissions as definitions.json has them")
        }
    }

    @Test func usersCarryNoPasswordAndSetPasswordsKnowsEveryOne() async throws {
        let definitions = try Deployment.definitions()
        let users = try #require(definitions["users"] as? [[String: Any]])
        #expect(
            users.allSatisfy { ($0["password_hash"] as? String) == "" && ($0["tags"] as? [String]) == [] },
            "no password, no management tags")
        let names = users.compactMap { $0["name"] as? String }
        #expect(Set(names) == Set(Deployment.services.map(\.name) + ["delegation-ops", "integration"]))
        let listed = try await TestBroker.run("\(Deployment.deploy)/rabbitmq/set-passwords", ["--list"])
        #expect(listed.split(separator: "\n").map(String.init) == names)
        #expect((definitions["vhosts"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["delegation"])
    }
}
