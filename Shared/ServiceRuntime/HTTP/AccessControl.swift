import Foundation
import Hummingbird
import HummingbirdAuth
import Logging
import NIOCore

/// The request context of every service's HTTP side: Hummingbird's core, and the caller once
/// its bearer token is checked.
public struct ServiceRequestContext: AuthRequestContext, RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public var identity: APIClient?
    /// The client's address (the console counts failed logins by it).
    public let remoteAddress: SocketAddress?

    public init(source: Source) {
        coreContext = .init(source: source)
        identity = nil
        remoteAddress = source.channel.remoteAddress
    }
}

/// The service's own routes, each group behind the scope it needs (`ServiceHTTP`). Anything with
/// names, addresses, phones or identity documents goes under `personalData`.
public struct ServiceRoutes {
    public let read: RouterGroup<ServiceRequestContext>
    public let personalData: RouterGroup<ServiceRequestContext>
    public let admin: RouterGroup<ServiceRequestContext>
    /// Routes that check their callers themselves (the console's pages, behind its own accounts
    /// and sessions); no API token is asked for.
    public let ownAccess: RouterGroup<ServiceRequestContext>
    /// Ring after committing outbox rows from a request, so the relay publishes them at once.
    public let outbox: Doorbell
}

/// Reads `Authorization: Bearer` and names the caller. A token that is presented but unknown,
/// revoked or wrong is refused here (401), whatever the route; no token passes on, for the
/// scope check to decide.
struct TokenAuthenticator: AuthenticatorMiddleware {
    typealias Context = ServiceRequestContext
    let store: ServiceStore
    let metrics: ServiceMetrics

    func authenticate(request: Request, context: ServiceRequestContext) async throws -> APIClient? {
        guard let presented = request.headers.bearer?.token else { return nil }
        guard let client = try await store.database.read({ db in try APITokens.client(presenting: presented, in: db) }) else {
            metrics.refused(.unauthorized)
            throw AccessRefusal.unauthorized("the bearer token is unknown, revoked or malformed")
        }
        return client
    }
}

/// Lets a request through when the caller's token includes `scope`, or when no token is in
/// force at all (a service on loopback before any was created). Otherwise 401 (no token) or 403
/// (a token without the scope), counted. Each request let into `personal-data` routes is logged
/// for audit: which token, which route (its pattern, never the values in the path), when.
struct ScopeMiddleware: RouterMiddleware {
    typealias Context = ServiceRequestContext
    let scope: AccessScope
    let store: ServiceStore
    let metrics: ServiceMetrics
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let client = context.identity {
            guard try await PermissionPolicy<APIClient>(scope).isAuthorized(identity: client, request: request) else {
                metrics.refused(.forbidden)
                throw AccessRefusal.forbidden("this token (\(client.tokenID)) lacks the '\(scope.rawValue)' scope")
            }
            if scope >= .personalData {
                logger.notice(
                    "personal data read",
                    metadata: [
                        "audit": "personal-data", "token.id": "\(client.tokenID)", "token.name": "\(client.name)",
                        "http.method": "\(request.method)", "http.route": "\(context.endpointPath ?? "?")",
                    ])
            }
        } else if try await store.database.read({ db in try APITokens.enforced(in: db) }) {
            metrics.refused(.unauthorized)
            throw AccessRefusal.unauthorized("this endpoint needs a bearer token with the '\(scope.rawValue)' scope")
        }
        return try await next(request, context)
    }
}

/// Counts every response by status (`http_requests_total`), errors included.
struct RequestMetricsMiddleware: RouterMiddleware {
    typealias Context = ServiceRequestContext
    let metrics: ServiceMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            let response = try await next(request, context)
            metrics.httpRequest(status: response.status.code)
            return response
        } catch let error as any HTTPResponseError {
            metrics.httpRequest(status: error.status.code)
            throw error
        } catch {
            metrics.httpRequest(status: 500)
            throw error
        }
    }
}

/// A refused request: 401 with `WWW-Authenticate: Bearer`, or 403; the body is the JSON error
/// every endpoint uses (`{"error": {"message": …}}`).
enum AccessRefusal {
    enum Kind: String { case unauthorized, forbidden }

    static func unauthorized(_ message: String) -> HTTPError {
        HTTPError(.unauthorized, headers: [.wwwAuthenticate: "Bearer realm=\"delegation\""], message: message)
    }

    static func forbidden(_ message: String) -> HTTPError {
        HTTPError(.forbidden, headers: [.wwwAuthenticate: "Bearer realm=\"delegation\", error=\"insufficient_scope\""], message: message)
    }
}

/// Whether a listening address is reachable from this machine only.
public func isLoopback(_ host: String) -> Bool {
    let lowered = host.lowercased()
    return lowered == "localhost" || lowered == "::1" || lowered == "[::1]" || lowered.hasPrefix("127.")
}
