import Foundation
import GRDB
import Messages
import ServiceRuntime
import TestSupport
import Testing

@testable import NotificationsCore

/// Contract 1.3 in notifications: the people of `registration.*` come sealed under the
/// registration's data key; with the key they are written to as before, a message ahead of its
/// key waits for it, and after erasure a replayed one writes to nobody.
@Suite struct NotificationsSealedPersonalDataTests {
    @Test func theLeadIsWrittenToOnceTheKeyOpensTheFieldsAndNobodyAfterErasure() async throws {
        let harness = try NotificationRulesTests.harness()
        try await harness.send(Samples.programme())
        let key = DataKey.generate()
        let id = registrationID(eventID: "danang-2026-01", reference: "acme")
        func accepted(revision: Int) -> RegistrationAccepted {
            var accepted = NotificationRulesTests.accepted(revision: revision)
            accepted.registrationID = id
            return accepted
        }
        let sealed = try accepted(revision: 1).sealed(with: key)
        #expect(!String(decoding: try MessageCoding.encode(sealed), as: UTF8.self).contains("li.wei.acme@example.cn"))

        guard case .retry = try await harness.apply(sealed, messageID: "accepted-1") else {
            Issue.record("a message ahead of its key waits for it")
            return
        }
        try await harness.send(RegistrationDataKey(eventID: "danang-2026-01", registrationID: id, key: key.base64, issuedAt: Date()))
        try await harness.send(sealed, messageID: "accepted-1", attempt: 2)
        let queued = try await NotificationRulesTests.notifications(harness, id)
        #expect(NotificationRulesTests.lead(queued).map(\.kind) == [.accepted])

        try await harness.send(
            RegistrationEraseRequested(
                eventID: "danang-2026-01", reference: "acme", requestedBy: "test", reason: .request, requestedAt: Date()))
        #expect(try await harness.read { db in try DataKeys.state(id, in: db) } == .erased)
        var replayed = try accepted(revision: 2).sealed(with: key)
        replayed.promoted = true
        try await harness.send(replayed, messageID: "accepted-2")
        let after = try await NotificationRulesTests.notifications(harness, id)
        #expect(after.allSatisfy { $0.recipient.email != "li.wei.acme@example.cn" }, "\(after.map(\.recipient.email))")
        #expect(after.count == queued.count, "nothing new is queued for an erased registration")
    }
}
