import Dispatch
import Synchronization

/// Where the console checks login passwords: each scrypt hash (~0.1 s and 32 MiB) runs on one
/// of `width` serial dispatch queues (threads of their own, never Swift's cooperative thread
/// pool), so at most `width` run at once; the others wait their turn in order, suspended,
/// holding no thread. A flood of logins then takes `width` threads and that much memory, and the
/// message pipeline and the outbox relay in the same process keep the cooperative threads they
/// run on.
public final class PasswordChecks: Sendable {
    private struct State {
        /// The queues no check runs on.
        var idle: [DispatchQueue]
        /// The checks waiting for a queue, first come first served.
        var waiting: [@Sendable (DispatchQueue) -> Void] = []
        var started = 0
    }

    /// How many checks may run at once.
    public let width: Int
    /// How many may wait for a queue: a login that would wait behind them is turned away (`isFull`).
    public let maxWaiting: Int
    private let state: Mutex<State>

    public init(width: Int = 2, maxWaiting: Int = 64) {
        self.width = max(1, width)
        self.maxWaiting = max(0, maxWaiting)
        state = Mutex(State(idle: (0..<max(1, width)).map { DispatchQueue(label: "console.password-checks.\($0)") }))
    }

    /// How many checks have started (each one a hash): a throttled login starts none.
    public var started: Int { state.withLock { $0.started } }

    /// Whether `maxWaiting` checks wait for a queue already: at ~0.1 s a hash, a login behind a
    /// longer line would wait for minutes, so it is turned away at once instead (checked before
    /// the attempt is counted: logins arriving at the very same moment may pass it together).
    public var isFull: Bool { state.withLock { $0.waiting.count >= maxWaiting } }

    /// Whether `password` is the one `stored` (an `Accounts` hash) was made from.
    public func verify(_ password: String, against stored: String) async -> Bool {
        await run { Accounts.verify(password, against: stored) }
    }

    /// Runs `work` on one of the queues once one is free.
    func run<Result: Sendable>(_ work: @escaping @Sendable () -> Result) async -> Result {
        await withCheckedContinuation { continuation in
            let job: @Sendable (DispatchQueue) -> Void = { queue in
                queue.async {
                    let result = work()
                    self.finished(on: queue)
                    continuation.resume(returning: result)
                }
            }
            let free = state.withLock { state -> DispatchQueue? in
                guard let queue = state.idle.popLast() else {
                    state.waiting.append(job)
                    return nil
                }
                state.started += 1
                return queue
            }
            if let free { job(free) }
        }
    }

    /// Hands `queue` to the longest waiting check, or back to the idle ones.
    private func finished(on queue: DispatchQueue) {
        let next = state.withLock { state -> (@Sendable (DispatchQueue) -> Void)? in
            guard !state.waiting.isEmpty else {
                state.idle.append(queue)
                return nil
            }
            state.started += 1
            return state.waiting.removeFirst()
        }
        next?(queue)
    }
}
