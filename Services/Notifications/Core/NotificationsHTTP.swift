import Foundation
import GRDB
import Hummingbird
import ServiceRuntime

/// Read-only HTTP: delivery history (each notification with every attempt) per registration
/// and per recipient, and counts per status. Recipients' addresses are personal data: serve
/// this on loopback or behind authentication only.
///
/// - `GET /registrations/{id}/notifications`
/// - `GET /recipients/{email}/notifications`
/// - `GET /notifications/counts`
public enum NotificationsHTTP {
    public struct History: Codable, Sendable {
        public var notification: NotificationRecord
        public var attempts: [DeliveryAttempt]
    }

    @Sendable public static func addRoutes(to router: Router<BasicRequestContext>, store: ServiceStore) {
        router.get("/registrations/:id/notifications") { _, context -> Response in
            let id = try context.parameters.require("id")
            return try await histories(store) { db in try NotificationStore.notifications(registrationID: id, in: db) }
        }
        router.get("/recipients/:email/notifications") { _, context -> Response in
            let email = try context.parameters.require("email")
            return try await histories(store) { db in try NotificationStore.notifications(recipient: email, in: db) }
        }
        router.get("/notifications/counts") { _, _ -> Response in
            try ServiceHTTP.json(await store.database.read { db in try NotificationStore.counts(in: db) })
        }
    }

    /// The notifications `fetch` finds, each with every attempt.
    private static func histories(_ store: ServiceStore, _ fetch: @escaping @Sendable (Database) throws -> [NotificationRecord])
        async throws -> Response
    {
        let histories = try await store.database.read { db in
            try fetch(db).map { History(notification: $0, attempts: try NotificationStore.attempts($0.id, in: db)) }
        }
        return try ServiceHTTP.json(histories)
    }
}
