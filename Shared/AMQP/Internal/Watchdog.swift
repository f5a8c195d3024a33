import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Bounds every blocking librabbitmq call.
///
/// rabbitmq-c 0.11 can block with no timeout: a publish while the broker does not read (full
/// socket buffer), or `amqp_try_recv` once a heartbeat deadline has passed (its bug #780). A
/// connection thread arms its `IOGuard` with a deadline before such a call and disarms it after;
/// one shared watchdog thread shuts down the socket of any guard whose deadline has passed,
/// which makes the blocked call return with an error. The connection then recovers.
final class IOGuard: Sendable {
    private struct State {
        var descriptor: Int32 = -1
        var deadline: UInt64 = 0
        var fired = false
    }

    private let state = Mutex(State())

    init() { Watchdog.shared.register(self) }

    /// The socket to shut down if a call stalls; -1 once the connection is destroyed.
    func attach(descriptor: Int32) {
        state.withLock {
            $0.descriptor = descriptor
            $0.fired = false
        }
    }
    func detach() {
        state.withLock {
            $0.descriptor = -1
            $0.deadline = 0
        }
    }

    func arm(seconds: Double) { state.withLock { $0.deadline = monotonicNanoseconds() + nanoseconds(seconds) } }
    func disarm() { state.withLock { $0.deadline = 0 } }

    /// Whether the watchdog shut the socket down since it was attached.
    var fired: Bool { state.withLock { $0.fired } }

    /// Called by the watchdog thread.
    fileprivate func check(now: UInt64) {
        state.withLock { state in
            guard state.deadline != 0, now >= state.deadline, state.descriptor >= 0, !state.fired else { return }
            state.fired = true
            shutdown(state.descriptor, Int32(SHUT_RDWR))
        }
    }
}

private final class Watchdog: Sendable {
    static let shared = Watchdog()

    private struct Entry { weak var guardian: IOGuard? }
    private let entries = Mutex<[Entry]>([])
    private let started = Mutex(false)

    func register(_ guardian: IOGuard) {
        entries.withLock { entries in
            entries.removeAll { $0.guardian == nil }
            entries.append(Entry(guardian: guardian))
        }
        let mustStart = started.withLock { started -> Bool in
            defer { started = true }
            return !started
        }
        if mustStart {
            let thread = Thread { [self] in run() }
            thread.name = "amqp-watchdog"
            thread.start()
        }
    }

    private func run() {
        while true {
            usleep(100_000)
            let now = monotonicNanoseconds()
            let guardians = entries.withLock { $0.compactMap(\.guardian) }
            for guardian in guardians { guardian.check(now: now) }
        }
    }
}
