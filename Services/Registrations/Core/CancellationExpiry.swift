import Foundation
import Logging
import ServiceLifecycle
import ServiceRuntime

/// Answers cancellation requests whose submission never came (`RegistrationsHandler
/// .expireCancellations`): wakes when the next one is due, writes the answers to the outbox and
/// rings the relay. A request that comes in while it sleeps is due at least the wait later, so
/// sleeping no longer than the wait (and a minute) misses none.
public final class CancellationExpiry: Service {
    private let context: ServiceHost.Context
    private let handler: RegistrationsHandler
    private let longestSleep: Double
    private let clock: @Sendable () -> Date

    public init(context: ServiceHost.Context, handler: RegistrationsHandler, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.context = context
        self.handler = handler
        self.longestSleep = min(60, max(handler.cancellationWait, 0.05))
        self.clock = clock
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let next: Date?
            do {
                next = try await expireDue()
            } catch {
                context.logger.error("cannot answer expired cancellation requests; retrying", metadata: ["error": "\(error)"])
                next = clock().addingTimeInterval(5)
            }
            let pause = min(max(next.map { $0.timeIntervalSince(clock()) } ?? longestSleep, 0.05), longestSleep)
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(pause)) }
        }
    }

    /// Answers what is due now; returns when the next request is due.
    func expireDue() async throws -> Date? {
        let now = clock()
        let service = context.configuration.kind
        let (answered, next) = try await context.store.database.write { db in
            let answers = try self.handler.expireCancellations(now: now, in: db)
            for (cause, answer) in answers {
                try Outbox.append([answer], causedBy: "cancel-expired|\(cause)", service: service, in: db)
            }
            return (answers.count, try RegistrationStore.nextCancellationExpiry(in: db))
        }
        if answered > 0 {
            context.outbox.ring()
            context.logger.info("cancellation requests answered: no such registration arrived", metadata: ["count": "\(answered)"])
        }
        return next
    }
}
