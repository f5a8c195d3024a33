import Foundation
import Logging
import ServiceLifecycle
import ServiceRuntime

/// Erases personal data when an event's retention ends (`REGISTRATIONS_RETENTION_DAYS` after
/// its last day): asks every service, through `registration.erase-requested`, for each of the
/// event's registrations (`RegistrationsHandler.requestDueErasures`). Wakes when the next
/// event's retention ends, and at least hourly (an event published meanwhile is seen then).
public final class RetentionSchedule: Service {
    private let context: ServiceHost.Context
    private let handler: RegistrationsHandler
    private let retention: Double
    private let clock: @Sendable () -> Date

    public init(
        context: ServiceHost.Context, handler: RegistrationsHandler, retention: Double, clock: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.context = context
        self.handler = handler
        self.retention = retention
        self.clock = clock
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let next: Date?
            do {
                next = try await requestDue()
            } catch {
                context.logger.error("cannot ask for the erasures due; retrying", metadata: ["error": "\(error)"])
                next = clock().addingTimeInterval(60)
            }
            let pause = min(max(next.map { $0.timeIntervalSince(clock()) } ?? 3600, 1), 3600)
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(pause)) }
        }
    }

    /// Asks for what is due now; returns when the next event's retention ends.
    func requestDue() async throws -> Date? {
        let now = clock()
        let service = context.configuration.kind
        let (asked, next) = try await context.store.database.write { db in
            let requests = try self.handler.requestDueErasures(now: now, retention: self.retention, in: db)
            for request in requests {
                try Outbox.append([request], causedBy: "retention|\(request.correlationID ?? "")", service: service, in: db)
            }
            return (requests.count, try RegistrationStore.nextRetentionEnd(retention: self.retention, in: db))
        }
        if asked > 0 {
            context.outbox.ring()
            context.logger.notice("retention ended: erasure asked", metadata: ["registrations": "\(asked)"])
        }
        return next
    }
}
