import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import NIOCore
import ServiceRuntime

/// Read-only HTTP: delivery history (each notification with every attempt) per registration
/// and per recipient, and counts per status. Recipients' addresses and the messages are
/// personal data: the histories need the `personal-data` scope.
///
/// - `GET /registrations/{id}/notifications` (`personal-data`)
/// - `GET /recipients/{email}/notifications` (`personal-data`)
/// - `GET /notifications/counts` (`read`)
///
/// and the recipients' own page, behind the signed link alone (`OptOutLinks`; reach it through
/// the reverse proxy at `NOTIFICATIONS_PUBLIC_URL`):
///
/// - `GET /opt-out?t=…`: whether the address gets non-essential notifications, and a button to
///   stop them or take them back (nothing changes on a GET: mail scanners open links)
/// - `POST /opt-out?t=…`: `choice=out` or `in` from the page, or RFC 8058's one-click
///   `List-Unsubscribe=One-Click` from a mail client
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

    /// The opt-out page (`OptOutLinks`), when links are configured.
    @Sendable public static func addOptOut(
        to routes: ServiceRoutes, store: ServiceStore, configuration: NotificationsConfiguration, renderer: Renderer,
        clock: @escaping @Sendable () -> Date = { Date() }
    ) {
        guard let links = configuration.optOut else { return }
        let organiser = configuration.sender.name ?? configuration.sender.email
        @Sendable func page(_ request: Request, change: Bool) async throws -> Response {
            guard let token = request.uri.queryParameters.get("t").map({ String($0) }), let (address, language) = links.verify(token) else {
                return Response(
                    status: .badRequest, headers: pageHeaders("text/plain; charset=utf-8"),
                    body: ResponseBody(byteBuffer: ByteBuffer(string: "This link is not valid (or no longer: its key was replaced).\n")))
            }
            var optedOut: Bool
            if change {
                let form = try await ServiceHTTP.form(request)
                optedOut = form["choice"] != "in"  // a choice from the page, or the one-click POST
                try await store.database.write { [optedOut] db in
                    try NotificationStore.setOptedOut(address, optedOut, now: clock(), in: db)
                }
            } else {
                optedOut = try await store.database.read { db in try NotificationStore.isOptedOut(address, in: db) }
            }
            let values: [String: Any] = ["action": "?t=\(token)", "optedOut": optedOut, "done": change, "organiser": organiser]
            guard let html = renderer.page("opt-out", language: language, values: values) else {
                throw HTTPError(.internalServerError, message: "no opt-out page among the templates")
            }
            return Response(
                status: .ok, headers: pageHeaders("text/html; charset=utf-8"), body: ResponseBody(byteBuffer: ByteBuffer(string: html)))
        }
        routes.ownAccess.get("/opt-out") { request, _ in try await page(request, change: false) }
        routes.ownAccess.post("/opt-out") { request, _ in try await page(request, change: true) }
    }

    /// The page's headers: not cached, nothing loaded or run, its token not sent on.
    private static func pageHeaders(_ contentType: String) -> HTTPFields {
        var fields: HTTPFields = [
            .contentType: contentType, .cacheControl: "no-store",
            .contentSecurityPolicy: "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ]
        if let referrer = HTTPField.Name("Referrer-Policy") { fields[referrer] = "no-referrer" }
        return fields
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
