import AMQP
import Foundation
import GRDB
import Messages
import ServiceCatalog
import ServiceRuntime
import TestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The three services as processes, with the registrations and notifications stores each on a
/// small filesystem that fills up while registrations keep coming: the two stop taking work and
/// say so, nothing is parked or lost while the disks are full, and once space is back they go on
/// by themselves until every registration is decided and every e-mail sent once.
@Suite(.serialized) struct DiskFullTests {
    static let registrationsPort = 18_281
    static let notificationsPort = 18_283

    static func ready(_ port: Int) async -> (status: Int, body: String) {
        guard let url = URL(string: "http://127.0.0.1:\(port)/health/ready"),
            let (body, response) = try? await URLSession.shared.data(from: url)
        else { return (0, "") }
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: body, as: UTF8.self))
    }

    @Test func fullDisksPauseTheServicesWhichResumeWithNothingParkedOrLost() async throws {
        try await RunningSystem.inVirtualHost("disk-full") { system, smtp, publisher, _ in
            let registrationsDisk = try await SmallFilesystem(kilobytes: 8192)
            let notificationsDisk = try await SmallFilesystem(kilobytes: 8192)
            do {
                system.storePaths["registrations"] = "\(registrationsDisk.path)/registrations.sqlite"
                system.storePaths["notifications"] = "\(notificationsDisk.path)/notifications.sqlite"
                try system.start("registrations", extra: ["REGISTRATIONS_HTTP_PORT": String(Self.registrationsPort)])
                try system.start("notifications", extra: ["NOTIFICATIONS_HTTP_PORT": String(Self.notificationsPort)])
                try system.start("itineraries")

                func submit(_ range: Range<Int>) async throws {
                    for index in range {
                        try await publisher.publish(
                            try MessageCoding.encode(Samples.submission(reference: "r-\(index)")), exchange: "delegation",
                            routingKey: "registration.submitted",
                            properties: .init(
                                contentType: "application/json", deliveryMode: .persistent, messageID: "submit-\(index)",
                                type: "registration.submitted"),
                            mandatory: true)
                    }
                }
                func decided() -> Int {
                    (try? system.read("registrations") { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM registrations") ?? 0 }) ?? 0
                }
                let programme = try OutgoingMessage.domain(
                    Samples.programme(organisations: 200, delegates: 1000), exchange: "delegation", appID: "disk-test")
                try await publisher.publish(
                    programme.body, exchange: "delegation", routingKey: programme.routingKey, properties: programme.properties,
                    mandatory: true)
                try await submit(0..<20)
                #expect(await eventually(within: 60) { decided() == 20 })

                try await registrationsDisk.fill()
                try await notificationsDisk.fill()
                try await submit(20..<100)
                // Both stop taking work and say why; nothing is parked meanwhile.
                let paused = await eventually(within: 60) {
                    let (registrations, notifications) = (
                        await Self.ready(Self.registrationsPort), await Self.ready(Self.notificationsPort)
                    )
                    return registrations.status == 503 && registrations.body.contains("paused") && notifications.status == 503
                }
                let states = (await Self.ready(Self.registrationsPort), await Self.ready(Self.notificationsPort))
                #expect(paused, "registrations: \(states.0); notifications: \(states.1)")
                try await Task.sleep(for: .seconds(5))
                for service in ["registrations", "notifications"] {
                    #expect(
                        try await publisher.queueState("\(service).dead-letters").messageCount == 0,
                        "\(service) parked nothing while its disk was full")
                }
                #expect(try await publisher.queueState("registrations.inbox").messageCount > 0, "the submissions wait in the queue")

                try registrationsDisk.free()
                try notificationsDisk.free()
                #expect(
                    await eventually(within: 120) { decided() == 100 }, "every registration decided once the disk has room: \(decided())")
                let (settled, last) = await RunningSystem.settle(within: 120) {
                    let waiting = (try? await publisher.queueState("notifications.inbox").messageCount) ?? 1
                    let pending =
                        (try? system.read("notifications") { db in
                            try Int.fetchOne(db, sql: "SELECT count(*) FROM notifications WHERE status IN ('pending', 'sending')") ?? 0
                        }) ?? 1
                    return (waiting == 0 && pending == 0, "\(waiting) \(pending) \(smtp.messages.count)")
                }
                #expect(settled, "notifications settled: \(last)")
                for service in ["registrations", "itineraries", "notifications"] {
                    #expect(try await publisher.queueState("\(service).dead-letters").messageCount == 0, "\(service) parked nothing")
                }
                let sent = try system.read("notifications") { db in
                    try String.fetchAll(db, sql: "SELECT id FROM notifications WHERE status = 'sent'")
                }
                let received = RunningSystem.receivedMessageIDs(smtp)
                #expect(Set(received.keys) == Set(sent), "every e-mail recorded as sent arrived, and nothing else")
                #expect(received.values.allSatisfy { $0 == 1 }, "each once")
                #expect((await Self.ready(Self.registrationsPort)).status == 200)
                #expect((await Self.ready(Self.notificationsPort)).status == 200)
                for (instance, process) in system.processes { #expect(process.isRunning, "\(instance)") }
            } catch {
                try? registrationsDisk.free()
                try? notificationsDisk.free()
                await system.stopAll()  // before the disks under their stores go
                await registrationsDisk.unmount()
                await notificationsDisk.unmount()
                throw error
            }
            await system.stopAll()
            await registrationsDisk.unmount()
            await notificationsDisk.unmount()
        }
    }
}
