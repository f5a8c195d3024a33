import Dispatch

/// A thread of its own for work that keeps a CPU busy for a long time (a plan takes seconds):
/// run there, it leaves Swift's cooperative threads, one per core, to the message pipeline, the
/// outbox relay, the timers and HTTP of the same process. Work runs one piece at a time, in the
/// order asked; a caller waits suspended, holding no thread.
public struct WorkerThread: Sendable {
    private let queue: DispatchQueue

    public init(label: String) {
        queue = DispatchQueue(label: label)
    }

    /// Runs `work` on the worker's thread and returns its result.
    public func run<Result: Sendable>(_ work: @escaping @Sendable () -> Result) async -> Result {
        await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: work()) }
        }
    }
}
