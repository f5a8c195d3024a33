import AMQP
import Foundation
import Messages
import ServiceCatalog
import ServiceRuntime
import TestSupport
import Testing

/// What makes an instance a shard: the partition headers on every domain message, the topology
/// of a sharded inbox, and the setting. The routing itself, through a real broker, is
/// ShardingTests (SystemTests).
@Suite struct ShardingTopologyTests {
    @Test func everyDomainMessageCarriesItsPartitionKeys() throws {
        let submission = try OutgoingMessage.domain(
            Samples.submission(eventID: "ev-1", reference: "r-1"), exchange: "x", messageID: "m1", appID: "t")
        #expect(submission.properties.headers[PartitionKeys.eventHeader]?.stringValue == "ev-1")
        #expect(
            submission.properties.headers[PartitionKeys.recipientHeader]?.stringValue == registrationID(eventID: "ev-1", reference: "r-1"))
        let programme = try OutgoingMessage.domain(Samples.programme(eventID: "ev-2"), exchange: "x", messageID: "m2", appID: "t")
        #expect(programme.properties.headers[PartitionKeys.eventHeader]?.stringValue == "ev-2")
        #expect(
            programme.properties.headers[PartitionKeys.recipientHeader]?.stringValue == "m2", "no recipient: the message id spreads them")
        let broken = OutgoingMessage.domain(
            type: "registration.submitted", body: Data("{not json".utf8), exchange: "x", messageID: "m3", appID: "t")
        #expect(broken.properties.headers[PartitionKeys.eventHeader]?.stringValue == "m3")
        // Every payload type says what it is about.
        let accepted = RegistrationAccepted(
            registrationID: "reg-1", eventID: "e", reference: "r", revision: 1, delegation: Samples.submission(reference: "r").delegation,
            acceptedAt: Date())
        #expect(accepted.partitionKeys == PartitionKeys(event: "e", recipient: "reg-1"))
        let rejected = RegistrationRejected(eventID: "e", reference: "r", revision: 1, issues: [], rejectedAt: Date())
        #expect(rejected.partitionKeys == PartitionKeys(event: "e", recipient: registrationID(eventID: "e", reference: "r")))
        #expect(
            RegistrationRejected(eventID: nil, reference: nil, revision: nil, issues: [], rejectedAt: Date()).partitionKeys
                == PartitionKeys(event: nil, recipient: nil))
    }

    @Test func aShardTakesHashedMessagesThroughTheServiceExchangeAndReferenceDataDirectly() {
        let service = SystemServices.named("notifications-2")
        #expect(service?.kind == "notifications")
        guard let service else { return }
        let sharding = service.sharding(exchange: "delegation")
        #expect(sharding.exchange == "delegation.notifications.shards")
        #expect(sharding.hashHeader == PartitionKeys.recipientHeader)
        let topology = ServiceTopology.service(
            service.names(), consumes: service.consumes, retryDelays: [1], deliveryLimit: 5, sharding: sharding)
        #expect(topology.exchanges.contains(.consistentHash("delegation.notifications.shards", hashHeader: PartitionKeys.recipientHeader)))
        #expect(
            Set(topology.exchangeBindings.map(\.routingKey)) == Set(service.consumes.filter { $0 != .programmePublished }.map(\.rawValue)))
        #expect(topology.exchangeBindings.allSatisfy { $0.source == "delegation" && $0.destination == sharding.exchange })
        let inbound = topology.bindings.filter { $0.queue == "notifications-2.inbox" }
        #expect(
            Set(inbound.map { "\($0.exchange) \($0.routingKey)" }) == [
                "delegation.notifications.shards 1", "delegation programme.published",
            ])
        #expect(SystemServices.registrations.sharding().hashHeader == PartitionKeys.eventHeader)
    }

    @Test func theSettingMakesAnInstanceAShardOfItsService() {
        var reader = EnvironmentReader(["REGISTRATIONS_NAME": "registrations-2", "REGISTRATIONS_SHARDED": "true", "EXCHANGE": "dx"])
        let configuration = ServiceConfiguration.read(SystemServices.registrations, from: &reader)
        #expect(reader.problems.isEmpty)
        #expect(configuration.serviceName == "registrations-2")
        #expect(configuration.kind == "registrations")
        #expect(configuration.sharding?.exchange == "dx.registrations.shards")
        var unsharded = EnvironmentReader([:])
        #expect(ServiceConfiguration.read(SystemServices.registrations, from: &unsharded).sharding == nil)
        var bad = EnvironmentReader(["REGISTRATIONS_SHARDED": "sometimes"])
        _ = ServiceConfiguration.read(SystemServices.registrations, from: &bad)
        #expect(bad.problems.contains { $0.contains("REGISTRATIONS_SHARDED='sometimes'") })
    }
}
