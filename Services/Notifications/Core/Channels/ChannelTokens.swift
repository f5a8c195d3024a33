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
/// token was refused while another refreshed gets the new one without a second refresh. A token
/// that merely expired is fetched again without saying it was refused. No token at all (every
/// refresh token refused) is the channel's problem, not a message's: `channelRefused`.
///
/// New tokens that cannot be written (the disk full, the store locked) are used from memory and
/// written before each later use until that succeeds: the pair in the store is spent by then, so
/// dropping the new one would leave only a re-authorisation of the account (a stop before the
/// write still loses it, and the log says so).
final class ChannelTokenKeeper: Sendable {
    /// Spends a refresh token for new tokens; `rejected`: the provider refused the last access
    /// token (WeChat then forces a new one, which voids every other holder's: never for a token
    /// that merely expired).
    typealias Refresh = @Sendable (_ refreshToken: String, _ rejected: Bool) async throws(DeliveryError) -> ChannelTokens

    private let channel: ChannelName
    private let firstRefreshToken: String?
    private let refreshCall: Refresh
    private let state = Mutex<State>(State())

    /// Tokens, and whether they are in the store.
    private struct Kept: Sendable {
        var tokens: ChannelTokens
        var saved: Bool
    }

    private struct State {
        var tokens: ChannelTokens?
        /// `tokens` could not be written: the store holds a spent pair.
        var unsaved = false
        /// A refresh, or a write of unsaved tokens: one at a time.
        var working: Task<Kept, any Error>?
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
            await saveAgain(context)
        } else {
            do {
                known = try await context.store.database.read { db in try NotificationStore.tokens(channel, in: db) }
            } catch {
                throw .transient("cannot read the \(channel) tokens: \(error)")
            }
            state.withLock { if $0.tokens == nil { $0.tokens = known } }
        }
        if let known, known.expiresAt > Date().addingTimeInterval(60) { return known.accessToken }
        return try await replace(known?.accessToken, rejected: false, context)
    }

    /// A new access token, the provider having refused `rejected`.
    func refresh(_ context: ChannelContext, rejected: String) async throws(DeliveryError) -> String {
        try await replace(rejected, rejected: true, context)
    }

    /// A new access token instead of `old` (refused by the provider when `rejected`, else expired
    /// or none); kept in the store before it is returned (or, if it cannot be written, in memory
    /// until it can).
    private func replace(_ old: String?, rejected: Bool, _ context: ChannelContext) async throws(DeliveryError) -> String {
        // (twice at most: the work under way may be a write of the tokens refused)
        enum Next {
            case fresh(String)  // another caller refreshed already
            case waiting(Task<Kept, any Error>)
        }
        for _ in 1...2 {
            let next = state.withLock { state -> Next in
                if let working = state.working { return .waiting(working) }
                // (an expired token may come back the same, with a new expiry: WeChat's stable token does)
                if let held = state.tokens, !rejected || held.accessToken != old, held.expiresAt > Date().addingTimeInterval(60) {
                    return .fresh(held.accessToken)
                }
                let working = refreshing(context, held: state.tokens, unsaved: state.unsaved, rejected: rejected)
                state.working = working
                return .waiting(working)
            }
            switch next {
            case .fresh(let token):
                return token
            case .waiting(let task):
                let kept = try await settle(task, context)
                if !rejected || kept.tokens.accessToken != old { return kept.tokens.accessToken }
            }
        }
        throw .transient("the \(channel) tokens are being written; try again")
    }

    /// Spends the newest refresh token for new tokens and writes them.
    private func refreshing(_ context: ChannelContext, held: ChannelTokens?, unsaved: Bool, rejected: Bool) -> Task<Kept, any Error> {
        let channel = self.channel
        let first = firstRefreshToken
        let call = refreshCall
        return Task { () async throws -> Kept in
            // The newest refresh token first (unsaved in memory, else the store's); the configured
            // one when that is refused (the operator authorised the app again and configured it).
            let newest =
                unsaved
                ? held?.refreshToken
                : try await context.store.database.read { db in try NotificationStore.tokens(channel, in: db) }?.refreshToken
                    ?? held?.refreshToken
            var tokens = [newest, first].compactMap { $0 }
            if tokens.count == 2, tokens[0] == tokens[1] { tokens.removeLast() }
            // (tokens are the account's, never a message's: without one, the channel is refused)
            guard !tokens.isEmpty else {
                throw DeliveryError.channelRefused("no \(channel) refresh token: set the first one in the configuration")
            }
            var fresh: ChannelTokens?
            for (index, token) in tokens.enumerated() {
                do {
                    fresh = try await call(token, rejected)
                    break
                } catch let error as DeliveryError where error.isPermanent {
                    if index + 1 < tokens.count { continue }
                    throw DeliveryError.channelRefused(error.reason)
                }
            }
            guard let fresh else { throw DeliveryError.channelRefused("no \(channel) refresh token was taken") }
            // The refresh token just spent is good no more: keep the new one before using it.
            return Kept(tokens: fresh, saved: await Self.save(fresh, channel, context))
        }
    }

    /// Writes tokens that could not be written before, unless a refresh or another write is
    /// under way.
    private func saveAgain(_ context: ChannelContext) async {
        let channel = self.channel
        let task: Task<Kept, any Error>? = state.withLock { state in
            guard state.unsaved, state.working == nil, let held = state.tokens else { return nil }
            let working = Task { () throws -> Kept in Kept(tokens: held, saved: await Self.save(held, channel, context)) }
            state.working = working
            return working
        }
        if let task { _ = try? await settle(task, context) }
    }

    /// The outcome of the work under way, kept in memory.
    private func settle(_ task: Task<Kept, any Error>, _ context: ChannelContext) async throws(DeliveryError) -> Kept {
        do {
            let kept = try await task.value
            state.withLock { state in
                if state.working == task {
                    state.working = nil
                    state.tokens = kept.tokens
                    state.unsaved = !kept.saved
                }
            }
            return kept
        } catch {
            state.withLock { if $0.working == task { $0.working = nil } }
            // (a refusal of the account itself is told to the operator once, by the delivery workers)
            if (error as? DeliveryError)?.isChannelRefused != true {
                context.logger.error("cannot refresh the channel's access token", metadata: ["channel": "\(channel)", "error": "\(error)"])
            }
            if let error = error as? DeliveryError { throw error }
            throw .transient("cannot refresh the \(channel) tokens: \(error)")
        }
    }

    /// Writes `tokens` to the store; false (logged) if it cannot.
    private static func save(_ tokens: ChannelTokens, _ channel: ChannelName, _ context: ChannelContext) async -> Bool {
        do {
            try await context.store.database.write { db in try NotificationStore.saveTokens(tokens, for: channel, now: Date(), in: db) }
            return true
        } catch {
            context.logger.error(
                """
                cannot write the channel's new tokens: they are used from memory and written again before each use; \
                a stop before then loses them (authorise the account again)
                """,
                metadata: ["channel": "\(channel)", "error": "\(error)"])
            return false
        }
    }
}
