import Foundation
import Messages
import ServiceRuntime
import Synchronization

/// A channel's access token, the refresh token that gets the next one, and when the access token
/// expires.
public struct ChannelTokens: Sendable, Equatable {
    public var accessToken: String
    public var refreshToken: String
    public var expiresAt: Date

    public init(accessToken: String, refreshToken: String, expiresAt: Date) {
        self.accessToken = accessToken
        self.refreshToken = refreshToken
        self.expiresAt = expiresAt
    }
}

/// Keeps a channel's tokens: in memory, and in the store (table `channel_tokens`) so that a
/// restart goes on with the refresh token last given. Refreshes one at a time (a refresh token
/// spent twice is refused, and the account would have to be authorised again); a caller whose
/// token was refused while another refreshed gets the new one without a second refresh.
final class ChannelTokenKeeper: Sendable {
    /// Spends a refresh token (`rejected`: whether the last access token was refused) for new tokens.
    typealias Refresh = @Sendable (_ refreshToken: String, _ rejected: Bool) async throws(DeliveryError) -> ChannelTokens

    private let channel: ChannelName
    private let firstRefreshToken: String?
    private let refreshCall: Refresh
    private let state = Mutex<State>(State())

    private struct State {
        var tokens: ChannelTokens?
        var refreshing: Task<ChannelTokens, any Error>?
    }

    init(channel: ChannelName, firstRefreshToken: String?, refresh: @escaping Refresh) {
        self.channel = channel
        self.firstRefreshToken = firstRefreshToken
        self.refreshCall = refresh
    }

    /// Calls `send` with a current access token and, when it says the token was refused (false),
    /// once more with a fresh one.
    func sending(_ context: ChannelContext, _ send: (String) async throws(DeliveryError) -> Bool) async throws(DeliveryError) {
        let token = try await accessToken(context)
        if try await send(token) { return }
        if try await send(try await refresh(context, rejected: token)) { return }
        throw .transient("\(channel) refused a freshly fetched access token")
    }

    /// A current access token: the one in memory or the store while it has over a minute left,
    /// else a fresh one.
    func accessToken(_ context: ChannelContext) async throws(DeliveryError) -> String {
        let channel = self.channel
        let known: ChannelTokens?
        if let held = state.withLock({ $0.tokens }) {
            known = held
        } else {
            do {
                known = try await context.store.database.read { db in try NotificationStore.tokens(channel, in: db) }
            } catch {
                throw .transient("cannot read the \(channel) tokens: \(error)")
            }
            state.withLock { if $0.tokens == nil { $0.tokens = known } }
        }
        if let known, known.expiresAt > Date().addingTimeInterval(60) { return known.accessToken }
        return try await refresh(context, rejected: known?.accessToken)
    }

    /// A new access token, `rejected` having been refused (or expired); kept in the store before
    /// it is returned.
    func refresh(_ context: ChannelContext, rejected: String?) async throws(DeliveryError) -> String {
        let channel = self.channel
        let task: Task<ChannelTokens, any Error> = state.withLock { state in
            if let refreshing = state.refreshing { return refreshing }
            if let held = state.tokens, held.accessToken != rejected, held.expiresAt > Date().addingTimeInterval(60) {
                return Task { held }  // another caller refreshed already
            }
            let refreshToken = state.tokens?.refreshToken
            let first = firstRefreshToken
            let call = refreshCall
            let refreshing = Task { () async throws -> ChannelTokens in
                let stored = try await context.store.database.read { db in try NotificationStore.tokens(channel, in: db) }
                // The kept token first; the configured one when the kept one is refused (the
                // operator authorised the app again and configured the new token).
                var tokens = [stored?.refreshToken ?? refreshToken, first].compactMap { $0 }
                if tokens.count == 2, tokens[0] == tokens[1] { tokens.removeLast() }
                guard !tokens.isEmpty else {
                    throw DeliveryError.permanent("no \(channel) refresh token: set the first one in the configuration")
                }
                var fresh: ChannelTokens?
                for (index, token) in tokens.enumerated() {
                    do {
                        fresh = try await call(token, rejected != nil)
                        break
                    } catch let error as DeliveryError where error.isPermanent && index + 1 < tokens.count {
                        continue
                    }
                }
                guard let fresh else { throw DeliveryError.permanent("no \(channel) refresh token was taken") }
                // The refresh token just spent is good no more: keep the new one before using it.
                try await context.store.database.write { db in
                    try NotificationStore.saveTokens(fresh, for: channel, now: Date(), in: db)
                }
                return fresh
            }
            state.refreshing = refreshing
            return refreshing
        }
        do {
            let fresh = try await task.value
            state.withLock { state in
                state.tokens = fresh
                if state.refreshing == task { state.refreshing = nil }
            }
            return fresh.accessToken
        } catch {
            state.withLock { if $0.refreshing == task { $0.refreshing = nil } }
            context.logger.error("cannot refresh the channel's access token", metadata: ["channel": "\(channel)", "error": "\(error)"])
            if let error = error as? DeliveryError { throw error }
            throw .transient("cannot keep the \(channel) tokens: \(error)")
        }
    }
}
