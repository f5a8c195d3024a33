import AMQP
import Foundation
import Logging
import ServiceLifecycle
import ServiceRuntime
import Synchronization

/// What waits in the dead-letter queues (and the queue of messages no service consumes), for
/// the overview: read every `interval` by declaring each queue passively, which tells its depth
/// and needs no permission on it. The console only looks; ops replay or discard with
/// `delegation-ops failed`.
public final class ParkedMessages: Sendable {
    /// One queue's depth; nil messages: the queue does not exist.
    public struct Queue: Sendable, Equatable {
        public var name: String
        public var messages: Int?
    }

    public struct Reading: Sendable, Equatable {
        public var queues: [Queue]
        public var at: Date
        /// Why the last attempt failed (the broker unreachable); the queues are then the last known.
        public var problem: String?

        public var total: Int { queues.reduce(0) { $0 + ($1.messages ?? 0) } }
    }

    public let queues: [String]
    private let reading = Mutex<Reading?>(nil)

    public init(queues: [String]) { self.queues = queues }

    /// The latest reading; nil before the first.
    public var latest: Reading? { reading.withLock { $0 } }

    func record(_ queues: [Queue], at: Date = Date()) { reading.withLock { $0 = Reading(queues: queues, at: at) } }

    func recordProblem(_ problem: String, at: Date = Date()) {
        reading.withLock { $0 = Reading(queues: $0?.queues ?? [], at: $0?.at ?? at, problem: problem) }
    }

    /// Reads every queue's depth over `connection`.
    func read(_ connection: AMQPConnection, at: Date = Date()) async throws {
        var found: [Queue] = []
        for name in queues {
            found.append(Queue(name: name, messages: try await connection.queueStateIfExists(name)?.messageCount))
        }
        record(found, at: at)
    }

    /// The background task that keeps the reading fresh, on a connection of its own.
    public func watcher(amqp: AMQPConfiguration, interval: Duration = .seconds(15), logger: Logger) -> any Service {
        Watcher(parked: self, amqp: amqp, interval: interval, logger: logger)
    }

    private struct Watcher: Service {
        let parked: ParkedMessages
        let amqp: AMQPConfiguration
        let interval: Duration
        let logger: Logger

        func run() async throws {
            var configuration = amqp
            configuration.connectionName = "\(amqp.connectionName) parked-messages"
            configuration.recovery.enabled = false  // (the loop reconnects at its own pace)
            var connection: AMQPConnection?
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                do {
                    if connection == nil { connection = try await AMQPConnection.connect(configuration, logger: logger) }
                    if let connection { try await parked.read(connection) }
                } catch {
                    parked.recordProblem("\(error)")
                    logger.warning("could not read the dead-letter queues' depths", metadata: ["error": "\(error)"])
                    await connection?.close()
                    connection = nil
                }
                _ = try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            }
            await connection?.close()
        }
    }
}
