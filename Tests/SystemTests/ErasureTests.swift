import AMQP
import Foundation
import GRDB
import Messages
import ServiceCatalog
import ServiceRuntime
import TestSupport
import Testing

/// The right to erasure across the running system: a registration goes through the three
/// services (decided, planned, its e-mails sent), then `delegation-ops erase --wait` asks them
/// to forget it. Afterwards no store file (the database, its write-ahead log and shared memory,
/// free pages included) holds any of the person's data, and each service answered. The archive
/// stream's segment files never hold it in plain text: they hold it sealed under the
/// registration's data key, which opens it before the erasure and exists nowhere after it.
@Suite(.serialized) struct ErasureTests {
    @Test func afterAnErasureNoStoreFileHoldsThePersonsData() async throws {
        try await RunningSystem.inVirtualHost("erasure") { try await Self.eraseAndSearch($0, $1, $2, $3) }
    }

    static func eraseAndSearch(_ system: RunningSystem, _ smtp: SMTPTestServer, _ publisher: AMQPConnection, _ url: String) async throws {
        for service in SystemServices.all { try system.start(service.name) }
        let programme = try OutgoingMessage.domain(Samples.programme(), exchange: "delegation", appID: "erasure-test")
        try await publisher.publish(
            programme.body, exchange: "delegation", routingKey: programme.routingKey, properties: programme.properties,
            mandatory: true)
        // Someone whose data is unmistakable, and one who stays.
        var person = Samples.submission(reference: "forget-me", delegates: 2)
        person.leadContact = Contact(
            name: "Quillon Forgettable", email: "quillon.forgettable@erasure.example", phone: "+84 905 123 987", language: .english)
        person.delegates[0].name = "Zephyrine Vanishwell"
        person.delegates[0].email = "zephyrine.vanishwell@erasure.example"
        person.delegates[0].identityDocument?.number = "EV7788990"
        let markers = [
            "Quillon Forgettable", "quillon.forgettable@erasure.example", "+84 905 123 987", "Zephyrine Vanishwell",
            "zephyrine.vanishwell@erasure.example", "EV7788990",
        ]
        for (index, submission) in [person, Samples.submission(reference: "stays")].enumerated() {
            let message = try OutgoingMessage.domain(
                submission, exchange: "delegation", messageID: "erasure-\(index)", appID: "erasure-test")
            try await publisher.publish(
                message.body, exchange: "delegation", routingKey: message.routingKey, properties: message.properties,
                mandatory: true)
        }
        let keyFile = system.store("registrations") + ".keys"
        let files =
            SystemServices.all.map(\.name).flatMap { name in
                [system.store(name), system.store(name) + "-wal", system.store(name) + "-shm"]
            } + [keyFile, keyFile + "-wal", keyFile + "-shm"]
        /// The markers still found, with the files holding them.
        func remaining() -> [String: [String]] {
            Dictionary(uniqueKeysWithValues: markers.map { ($0, StoreText.filesContain(files, $0)) }).filter { !$0.value.isEmpty }
        }
        // Decided, planned and mailed: the e-mails to the lead and the delegates went out.
        #expect(
            await eventually(within: 60) {
                smtp.messages.contains { String(decoding: $0, as: UTF8.self).contains("quillon.forgettable@erasure.example") }
                    && (try? system.read("itineraries") { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM plans") ?? 0 }) ?? 0
                        > 0
            })
        #expect(
            !StoreText.filesContain(files, "quillon.forgettable@erasure.example").isEmpty,
            "the stores hold the address before (else this test could not fail)")

        // The archive: the registration's messages are in its segment files, the person is not.
        let id = registrationID(eventID: person.eventID, reference: "forget-me")
        let segments = StoreText.files(under: TestBroker.dataDirectory + "/stream")
        #expect(!StoreText.filesContain(segments, id).isEmpty, "the archive's segments hold the registration (else this could not fail)")
        for marker in markers { #expect(StoreText.filesContain(segments, marker).isEmpty, "\(marker) is in the archive in plain text") }
        // Sealed there under the registration's key, which opens them as long as it exists.
        let key = try #require(try Self.key(id, in: keyFile))
        let archive = Collector(
            try await publisher.consume(queue: "delegation.archive", prefetch: 200, arguments: ["x-stream-offset": "first"]), autoAck: true)
        defer { archive.stop() }
        func archived() -> [RegistrationAccepted] {
            archive.deliveries.filter { $0.properties.type == MessageType.registrationAccepted.rawValue }
                .compactMap { try? MessageCoding.decode(RegistrationAccepted.self, from: $0.body) }.filter { $0.registrationID == id }
        }
        #expect(await eventually(within: 10) { !archived().isEmpty })
        let sealed = try #require(archived().first)
        #expect(try sealed.opened(with: key).delegation.leadContact.email == "quillon.forgettable@erasure.example")
        #expect(
            !archive.deliveries.contains { $0.properties.type == MessageType.registrationSubmitted.rawValue },
            "the archive keeps registration.recorded, not the submission in plain text")

        let ops = try await TestBroker.run(
            ServiceTestBed.executable("delegation-ops"),
            [
                "erase", "--url", url, "--event", person.eventID, "--reference", "forget-me", "--requested-by", "erasure-test",
                "--wait", "60",
            ])
        for service in ["registrations", "itineraries", "notifications"] {
            #expect(ops.contains("\(service): erased"), "\(ops)")
        }
        // Each store forgets (its write-ahead log truncated after the commit).
        let forgotten = await eventually(within: 30) { remaining().isEmpty }
        #expect(forgotten, "still found: \(remaining())")
        // The other registration is untouched.
        #expect(!StoreText.filesContain(files, "li.wei.stays@example.cn").isEmpty)

        // The key is gone from every file and every service: the archive's copies never open again.
        #expect(StoreText.filesContain(files, bytes: key.bytes).isEmpty && StoreText.filesContain(files, key.base64).isEmpty)
        #expect(try Self.key(id, in: keyFile) == nil)
        for consumer in ["itineraries", "notifications"] {
            #expect(try system.read(consumer) { db in try DataKeys.state(id, in: db) } == .erased, "\(consumer) forgot the key")
        }
        let segmentsAfter = StoreText.files(under: TestBroker.dataDirectory + "/stream")
        for marker in markers { #expect(StoreText.filesContain(segmentsAfter, marker).isEmpty) }
    }

    /// The registration's data key in registrations' key file (nil: none, or erased).
    static func key(_ registrationID: String, in path: String) throws -> DataKey? {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(5)
        let data = try DatabaseQueue(path: path, configuration: configuration).read { db in
            try Data.fetchOne(db, sql: "SELECT key FROM data_keys WHERE registration_id = ?", arguments: [registrationID])
        }
        return data.flatMap { DataKey(bytes: $0) }
    }
}
