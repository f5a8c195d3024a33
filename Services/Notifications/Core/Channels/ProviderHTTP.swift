import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The channels' HTTP calls (the webhook, the SMS gateway, Zalo, WeChat).
enum ProviderHTTP {
    /// Their own connections: not queued behind whatever else in the process uses the shared
    /// session (its connections per host are few, and shared by every port of a host).
    static let session = URLSession(configuration: .ephemeral)

    /// The status and body `request` got; no answer at all is transient (`provider` names who
    /// could not be reached).
    static func exchange(_ request: URLRequest, provider: String) async throws(DeliveryError) -> (status: Int, body: Data) {
        do {
            let (data, response) = try await session.data(for: request)
            return ((response as? HTTPURLResponse)?.statusCode ?? 0, data)
        } catch {
            throw .transient("\(provider) \(request.url?.host ?? "?") unreachable: \(error.localizedDescription)")
        }
    }
}
