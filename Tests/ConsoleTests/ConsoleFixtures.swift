import Foundation
import Messages
import ServiceRuntime
import TestSupport

@testable import ConsoleCore

/// The seed-like event the console tests read: the sample programme with two buses, three
/// delegations (sealed as registrations sends them, each with its key first), itineraries that
/// put two of them on bus-1 and one on bus-2 on 14 January.
enum ConsoleFixtures {
    static let eventID = "danang-2026-01"

    static func harness(documentKeys: DocumentKeys? = nil) throws -> HandlerHarness {
        try HandlerHarness(ConsoleHandler(documentKeys: documentKeys).dispatcher, migrations: ConsoleStore.migrate)
    }

    static func programme() -> ProgrammePublished {
        var programme = Samples.programme()
        programme.buses = [Bus(id: "bus-1", seats: 24), Bus(id: "bus-2", seats: 16)]
        return programme
    }

    static func id(_ reference: String) -> String { registrationID(eventID: eventID, reference: reference) }

    static func accepted(_ reference: String, name: String, delegates: Int = 2, revision: Int = 1) -> RegistrationAccepted {
        RegistrationAccepted(
            registrationID: id(reference), eventID: eventID, reference: reference, revision: revision,
            delegation: Samples.submission(reference: reference, delegates: delegates, name: name).delegation,
            acceptedAt: Samples.danang(day: 6, 10))
    }

    /// Sends the data key, then the sealed acceptance, as registrations would.
    static func accept(_ harness: HandlerHarness, _ accepted: RegistrationAccepted) async throws {
        let key = DataKey.generate()
        try await harness.send(
            RegistrationDataKey(eventID: eventID, registrationID: accepted.registrationID, key: key.base64, issuedAt: Date()))
        try await harness.send(try accepted.sealed(with: key))
    }

    /// A visit of `bus` at `venue` on 14 January from `hour`:`minute` for `minutes`.
    static func visit(_ reference: String, bus: String, venue: String, hour: Int, minute: Int = 0, minutes: Double = 90) -> ItineraryItem {
        let start = Samples.danang(day: 14, hour, minute)
        return ItineraryItem(
            uid: "visit-\(venue)-\(reference)", kind: .visit, title: LocalizedText(en: venue), venueID: venue, start: start,
            end: start.addingTimeInterval(minutes * 60), busID: bus)
    }

    static func planned(_ reference: String, _ items: [ItineraryItem], version: Int = 1) -> ItineraryPlanned {
        ItineraryPlanned(
            eventID: eventID, registrationID: id(reference), planVersion: version, timeZone: "Asia/Ho_Chi_Minh", items: items, unmet: [],
            plannedAt: Samples.danang(day: 7, 9))
    }

    /// The whole event: three accepted delegations with their tours, one notification sent and
    /// one failed.
    static func event() async throws -> HandlerHarness {
        let harness = try harness()
        try await harness.send(programme())
        try await accept(harness, accepted("acme", name: "Shenzhen Logistics Co.", delegates: 3))
        try await accept(harness, accepted("delta", name: "Guangxi Port Group", delegates: 2))
        try await accept(harness, accepted("hanoi-ai", name: "Hanoi AI Labs", delegates: 4))
        try await harness.send(
            planned(
                "acme",
                [
                    visit("acme", bus: "bus-1", venue: "lien-chieu-port", hour: 8),
                    visit("acme", bus: "bus-1", venue: "enosta-hub", hour: 13),
                ]))
        try await harness.send(
            planned(
                "delta",
                [
                    visit("delta", bus: "bus-1", venue: "lien-chieu-port", hour: 8),
                    visit("delta", bus: "bus-1", venue: "enosta-hub", hour: 13),
                ]))
        try await harness.send(planned("hanoi-ai", [visit("hanoi-ai", bus: "bus-2", venue: "enosta-hub", hour: 9, minutes: 60)]))
        try await harness.send(
            NotificationDelivered(
                notificationID: "n-1", idempotencyKey: "key-1", registrationID: id("acme"), kind: .accepted, channel: .email,
                language: .chineseSimplified, attempts: 1, deliveredAt: Samples.danang(day: 6, 10, 1)))
        try await harness.send(
            NotificationFailed(
                notificationID: "n-2", idempotencyKey: "key-2", registrationID: id("delta"), kind: .accepted, channel: .email,
                reason: "550 mailbox unavailable", permanent: true, attempts: 3, failedAt: Samples.danang(day: 6, 10, 5)))
        return harness
    }
}
