import AMQP
import Foundation
import Synchronization

/// Consumes in the background and keeps what arrives, so tests can wait for counts with a
/// deadline instead of blocking on the sequence.
public final class Collector: Sendable {
    private struct State {
        var deliveries: [Delivery] = []
        var error: (any Error)?
        var finished = false
    }

    private final class Storage: Sendable {
        let state = Mutex(State())
    }

    private let storage = Storage()
    private let task: Mutex<Task<Void, Never>?> = Mutex(nil)

    /// With `autoAck`, each delivery is acked as it arrives.
    public init(_ consumer: AMQPConsumer, autoAck: Bool = false) {
        let task = Task { [storage] in
            do {
                for try await delivery in consumer {
                    if autoAck { delivery.ack() }
                    storage.state.withLock { $0.deliveries.append(delivery) }
                }
                storage.state.withLock { $0.finished = true }
            } catch {
                storage.state.withLock {
                    $0.error = error
                    $0.finished = true
                }
            }
        }
        self.task.withLock { $0 = task }
    }

    public var deliveries: [Delivery] { storage.state.withLock { $0.deliveries } }
    public var count: Int { storage.state.withLock { $0.deliveries.count } }
    public var error: (any Error)? { storage.state.withLock { $0.error } }
    /// The sequence ended (normally or with `error`).
    public var finished: Bool { storage.state.withLock { $0.finished } }

    /// Waits until at least `count` deliveries arrived (or `seconds` passed); returns them all.
    @discardableResult
    public func wait(for count: Int, within seconds: Double = 10) async -> [Delivery] {
        _ = await eventually(within: seconds) { self.count >= count }
        return deliveries
    }

    public func waitUntilFinished(within seconds: Double = 10) async -> Bool {
        await eventually(within: seconds) { self.finished }
    }

    public func stop() { task.withLock { $0?.cancel() } }
}

/// A value shared between tasks of a test.
public final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    public init(_ value: Value) { mutex = Mutex(value) }
    public var value: Value { mutex.withLock { $0 } }
    public func withLock<T: Sendable>(_ body: (inout Value) -> T) -> T { mutex.withLock { body(&$0) } }
}
