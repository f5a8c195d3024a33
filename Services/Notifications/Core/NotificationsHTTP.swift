import Foundation
import GRDB
import Hummingbird
import ServiceRuntime

/// Read-only HTTP: delivery history (each notification with every attempt) per registration
/// and per recipient, and counts per status. Recipients' addresses and the messages are
/// personal data: the histories need the `personal-data` scope.
///
/// - `GET /registrations/{id}/notifications` (`personal-data`)
/// - `GET /recipients/{email}/notifications` (`personal-data`)
/// - `GET /notifications/counts` (`read`)
public enum NotificationsHTTP {
    public struct History: Codable, Sendable {
        public var notification: NotificationRecord
        public var attempts: [DeliveryAttempt]
    }

    @Sendable public static func addRoutes(to routes: ServiceRoutes, store: ServiceStore) {
        routes.personalData.get("/registrations/:id/notifications") { _, context -> Response in
            let id = try context.parameters.require("id")
            return try await histories(store) { db in try NotificationStore.notifications(registrationID: id, in: db) }
        }
        routes.personalData.get("/recipients/:email/notifications") { _, context -> Response in
            let email = try context.parameters.require("email")
            return try await histories(store) { db in try NotificationStore.notifications(recipient: email, in: db) }
        }
        routes.read.get("/notifications/counts") { _, _ -> Response in
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
