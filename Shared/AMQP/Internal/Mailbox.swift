import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Monotonic nanoseconds (CLOCK_MONOTONIC), the time base of every deadline in this module.
func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

func nanoseconds(_ seconds: Double) -> UInt64 { UInt64(max(0, seconds) * 1_000_000_000) }

/// The queue of work for one connection's thread, and the means to wake that thread from
/// `poll()`.
///
/// Any task may `submit`; only the connection thread calls `take` and `wait`. A submit wakes the
/// thread (one byte down a pipe) only when it is asleep, so a busy connection costs one lock per
/// command and no system call. While the thread has work in flight (unconfirmed publishes,
/// unsettled deliveries) it sleeps lightly, at most a millisecond, and wakes anyway when the
/// broker answers; a routine command (`urgent: false`: a publish, an ack) then waits for that
/// instead of waking it. Under load this turns a wake-up per message into one per batch.
final class Mailbox: Sendable {
    typealias Command = @Sendable (ConnectionEngine) -> Void

    private struct State {
        var commands: [Command] = []
        var sleeping = false
        var sleepingLightly = false
        var open = true
    }

    private let state = Mutex(State())
    private let wakeReader: Int32
    private let wakeWriter: Int32

    init() throws {
        var descriptors: [Int32] = [-1, -1]
        guard pipe(&descriptors) == 0 else {
            throw AMQPError.library(
                operation: "creating the connection's wake-up pipe", status: errno, message: String(cString: strerror(errno)))
        }
        for descriptor in descriptors {
            _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
            _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        }
        wakeReader = descriptors[0]
        wakeWriter = descriptors[1]
    }

    deinit {
        close(wakeReader)
        close(wakeWriter)
    }

    /// Queues `command` for the connection thread; false if that thread has ended.
    @discardableResult
    func submit(urgent: Bool = true, _ command: @escaping Command) -> Bool {
        let (accepted, wake) = state.withLock { state -> (Bool, Bool) in
            guard state.open else { return (false, false) }
            state.commands.append(command)
            let wake = state.sleeping && (urgent || !state.sleepingLightly)
            if wake { state.sleeping = false }
            return (true, wake)
        }
        if wake {
            var byte: UInt8 = 1
            _ = write(wakeWriter, &byte, 1)
        }
        return accepted
    }

    /// Everything submitted so far, in order.
    func take() -> [Command] {
        state.withLock { state in
            let commands = state.commands
            state.commands.removeAll(keepingCapacity: true)
            return commands
        }
    }

    /// Refuses further commands and returns those still queued (to be failed by the caller).
    func shut() -> [Command] {
        state.withLock { state in
            state.open = false
            let commands = state.commands
            state.commands = []
            return commands
        }
    }

    /// Sleeps until a command arrives, `socket` has the awaited readiness, or `timeoutMilliseconds`
    /// pass (at most 1 ms when `lightly`). Returns the socket's `revents` (0 if it was not ready or
    /// not given).
    func wait(socket: Int32, wantWrite: Bool, timeoutMilliseconds: Int32, lightly: Bool = false) -> Int16 {
        let mustSleep = state.withLock { state -> Bool in
            guard state.commands.isEmpty else { return false }
            state.sleeping = true
            state.sleepingLightly = lightly
            return true
        }
        guard mustSleep else { return 0 }
        var descriptors = [
            pollfd(fd: wakeReader, events: Int16(POLLIN), revents: 0),
            pollfd(fd: socket, events: Int16(POLLIN) | (wantWrite ? Int16(POLLOUT) : 0), revents: 0),
        ]
        let count = nfds_t(socket >= 0 ? 2 : 1)
        _ = poll(&descriptors, count, lightly ? min(timeoutMilliseconds, 1) : timeoutMilliseconds)
        state.withLock { $0.sleeping = false }
        if descriptors[0].revents != 0 {
            var buffer = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
            _ = withUnsafeMutableBytes(of: &buffer) { read(wakeReader, $0.baseAddress, $0.count) }
        }
        return socket >= 0 ? descriptors[1].revents : 0
    }
}
