import AMQP
import Foundation
import ServiceCatalog
import ServiceRuntime

/// Everything the system needs on the broker: the domain exchange and archive stream, and each
/// service's inbox, delay queues and dead-letter queue, with the arguments the services declare
/// them with.
public struct SystemTopology: Sendable {
    public var exchange = "delegation"
    public var archiveMaxAge = "30D"
    public var retryDelays: [Double] = [1, 5, 30, 120]
    public var deliveryLimit = 5
    /// Per service (its kind: `registrations`, also for its shards), where it is configured
    /// otherwise than `retryDelays` and `deliveryLimit` (`<P>_RETRY_DELAYS`, `<P>_DELIVERY_LIMIT`).
    public var retryDelaysByService: [String: [Double]] = [:]
    public var deliveryLimitByService: [String: Int] = [:]
    public var services = SystemServices.all
    /// Services that run as shards, by name, with how many: `registrations: 2` means instances
    /// `registrations-1` and `registrations-2` (their `<P>_NAME`), each with `<P>_SHARDED=true`.
    public var shards: [String: Int] = [:]

    public init() {}

    /// Each running instance with its sharding: the services, a sharded one as its shards.
    public var instances: [(service: ServiceDescription, sharding: ServiceTopology.Sharding?)] {
        services.flatMap { service -> [(service: ServiceDescription, sharding: ServiceTopology.Sharding?)] in
            guard let count = shards[service.name], count > 0 else { return [(service, nil)] }
            return (1...count).compactMap { SystemServices.named("\(service.name)-\($0)") }.map { ($0, $0.sharding(exchange: exchange)) }
        }
    }

    public var topology: Topology {
        instances.reduce(ServiceTopology.domain(exchange: exchange, archiveMaxAge: archiveMaxAge)) { topology, instance in
            topology.merging(
                ServiceTopology.service(
                    instance.service.names(exchange: exchange), consumes: instance.service.consumes,
                    retryDelays: retryDelaysByService[instance.service.kind] ?? retryDelays,
                    deliveryLimit: deliveryLimitByService[instance.service.kind] ?? deliveryLimit,
                    sharding: instance.sharding))
        }
    }

    /// One difference between the broker and what the services need.
    public struct Drift: Sendable, Equatable, CustomStringConvertible {
        public enum Kind: String, Sendable { case missing, differs }
        public var kind: Kind
        public var object: String
        public var detail: String

        public var description: String { "\(kind == .missing ? "MISSING" : "DIFFERS") \(object): \(detail)" }
    }

    /// Declares everything (idempotent), and with `control` sets `policies` too. Throws
    /// `PRECONDITION_FAILED` if something exists with other arguments: `verify` says what.
    public func apply(connection configuration: AMQPConfiguration, control: BrokerControl? = nil, policies: [BrokerControl.Policy] = [])
        async throws -> Topology
    {
        let topology = self.topology
        try await withConnection(configuration, name: "delegation-ops topology apply") { connection in
            do {
                try await connection.declare(topology)
                for binding in ServiceTopology.retiredBindings(exchange: exchange) { try await connection.unbind(binding) }
            } catch {
                throw OpsError.from(error, doing: "declaring the topology")
            }
        }
        if let control {
            for policy in policies { try await control.set(policy, vhost: configuration.virtualHost) }
        }
        return topology
    }

    /// With `control` (rabbitmqctl on the broker's host): the bindings, and the policies of the
    /// definitions file, which AMQP cannot read.
    public func verifyBindingsAndPolicies(_ control: BrokerControl, vhost: String, policies expected: [BrokerControl.Policy]) async throws
        -> [Drift]
    {
        let topology = self.topology
        var drift: [Drift] = []
        let bindings = try await control.bindings(vhost: vhost)
        for binding in topology.bindings {
            let wanted = BrokerControl.Binding(exchange: binding.exchange, queue: binding.queue, routingKey: binding.routingKey)
            if !bindings.contains(wanted) {
                drift.append(Drift(kind: .missing, object: "binding \(wanted)", detail: "messages of this type do not reach the queue"))
            }
        }
        for binding in ServiceTopology.retiredBindings(exchange: exchange) {
            let retired = BrokerControl.Binding(exchange: binding.exchange, queue: binding.queue, routingKey: binding.routingKey)
            if bindings.contains(retired) {
                drift.append(
                    Drift(kind: .differs, object: "binding \(retired)", detail: "retired: run `delegation-ops topology apply` to remove it")
                )
            }
        }
        for binding in topology.exchangeBindings {
            let wanted = BrokerControl.Binding(
                exchange: binding.source, queue: binding.destination, routingKey: binding.routingKey, toExchange: true)
            if !bindings.contains(wanted) {
                drift.append(Drift(kind: .missing, object: "binding \(wanted)", detail: "messages of this type do not reach the shards"))
            }
        }
        let present = try await control.policies(vhost: vhost)
        for policy in expected {
            guard let found = present.first(where: { $0.name == policy.name }) else {
                drift.append(Drift(kind: .missing, object: "policy \(policy.name)", detail: "\(policy.pattern) \(policy.definition)"))
                continue
            }
            if found != policy {
                drift.append(
                    Drift(
                        kind: .differs, object: "policy \(policy.name)",
                        detail:
                            "is \(found.pattern) \(found.applyTo) \(found.priority) \(found.definition); "
                            + "expected \(policy.pattern) \(policy.applyTo) \(policy.priority) \(policy.definition)"
                    ))
            }
        }
        return drift
    }

    /// Checks without creating or changing anything: every exchange and queue exists, and
    /// each queue has the expected arguments (re-declaring an existing queue with identical
    /// arguments changes nothing; different ones are refused with PRECONDITION_FAILED, which
    /// is the drift). Bindings cannot be read over AMQP 0-9-1: `apply` re-asserts them.
    public func verify(connection configuration: AMQPConfiguration) async throws -> [Drift] {
        let topology = self.topology
        return try await withConnection(configuration, name: "delegation-ops topology verify") { connection in
            // An existing object re-declared with identical arguments is left as it is.
            func check(_ object: String, expected: String, exists: Bool, as declared: Topology) async throws -> Drift? {
                guard exists else { return Drift(kind: .missing, object: object, detail: expected) }
                do {
                    try await connection.declare(declared)
                    return nil
                } catch let error as AMQPError where error.replyCode == .preconditionFailed {
                    return Drift(kind: .differs, object: object, detail: Self.brokerText(error))
                }
            }
            var drift: [Drift] = []
            for exchange in topology.exchanges {
                let exists = try await connection.exchangeExists(exchange.name)
                if let found = try await check(
                    "exchange \(exchange.name)", expected: "a \(exchange.type) exchange", exists: exists,
                    as: Topology(exchanges: [exchange]))
                {
                    drift.append(found)
                }
            }
            for queue in topology.queues {
                let exists = try await connection.queueExists(queue.name)
                if let found = try await check(
                    "queue \(queue.name)", expected: "a \(queue.kind) queue", exists: exists, as: Topology(queues: [queue]))
                {
                    drift.append(found)
                }
            }
            return drift
        }
    }

    static func brokerText(_ error: AMQPError) -> String {
        if case .channelClosedByBroker(_, let text) = error { return text }
        return "\(error)"
    }
}
