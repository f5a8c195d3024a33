import Synchronization

/// Tells every waiting task that the store changed: the pipeline rings it after each commit that
/// applied messages, and background services (the planner, the delivery workers) wait on it, or
/// on a timer for their next due item, instead of polling. Each waiter remembers the last change
/// it saw (`seen`), so none misses a change that came while it was busy.
public final class ChangeSignal: Sendable {
    private struct State {
        var generation = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// The count of changes so far: pass it to `wait(after:timeout:)`.
    public var generation: Int { state.withLock { $0.generation } }

    public func ring() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.generation += 1
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once a change after `seen` has come (at once if one already has), after
    /// `timeout`, or when the task is cancelled; returns the generation now.
    @discardableResult
    public func wait(after seen: Int, timeout: Duration) async -> Int {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.waitForChange(after: seen) }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
        return generation
    }

    private func waitForChange(after seen: Int) async {
        let id = state.withLock { state -> Int in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    if state.generation > seen || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume()
        }
    }
}
