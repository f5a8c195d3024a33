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
/// free pages included) holds any of the person's data, and each service answered.
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
        let files = ["registrations", "itineraries", "notifications"].flatMap { name in
            [system.store(name), system.store(name) + "-wal", system.store(name) + "-shm"]
        }
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
    }
}
