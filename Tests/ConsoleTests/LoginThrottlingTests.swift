import Dispatch
import Foundation
import HTTPTypes
import ServiceRuntime
import Synchronization
import TestSupport
import Testing

@testable import ConsoleCore

/// Failed logins are limited however many arrive at once: an attempt is counted before its
/// password is checked, a throttled one checks none, and the checks run off Swift's cooperative
/// thread pool, a few at a time.
@Suite struct LoginThrottlingTests {
    /// A sixteenth of the standard cost.
    static let slow = Accounts.Cost(rounds: 1 << 11, blockSize: 8, parallelism: 1)

    /// The console's clock, moved on by the test.
    final class Clock: Sendable {
        private let date = Mutex(Date(timeIntervalSince1970: 1_800_000_000))
        var now: Date { date.withLock { $0 } }
        func advance(by interval: TimeInterval) { date.withLock { $0 = $0.addingTimeInterval(interval) } }
    }

    /// `count` logins of `name` with `password` sent at once, each from a browser of its own.
    static func loginsAtOnce(_ count: Int, _ name: String, _ password: String, through browser: ConsolePagesTests.Browser) async throws
        -> [HTTPResponse.Status]
    {
        try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
            for _ in 0..<count {
                group.addTask { try await ConsolePagesTests.Browser(browser.client).login(name, password).status }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
    }

    @Test func wrongPasswordsSentAtOnceGetNoMoreGuessesThanTheLimit() async throws {
        let harness = try ConsoleFixtures.harness()
        let passwords = PasswordChecks()
        let clock = Clock()
        // A hash slow enough that the attempts overlap, as real ones do.
        try await harness.write { db in
            try Accounts.add(name: "lan", role: .viewer, password: ConsolePagesTests.password, cost: Self.slow, in: db)
        }
        try await ConsolePagesTests.withConsole(harness, passwords: passwords, now: { clock.now }) { browser, _ in
            let statuses = try await Self.loginsAtOnce(40, "lan", "wrong password!!", through: browser)
            #expect(statuses.filter { $0 == .unauthorized }.count == Accounts.failureLimit)
            #expect(statuses.filter { $0 == .tooManyRequests }.count == 40 - Accounts.failureLimit)
            #expect(passwords.started == Accounts.failureLimit, "a throttled attempt checks no password")

            #expect(try await browser.login("lan").status == .tooManyRequests, "the right password waits out the window too")
            #expect(passwords.started == Accounts.failureLimit)
            clock.advance(by: Accounts.failureWindow + 1)
            #expect(try await browser.login("lan").status == .seeOther, "the window has passed")
            #expect(passwords.started == Accounts.failureLimit + 1)

            let outcomes = try await harness.read { db in try Accounts.auditLog(in: db) }.filter { $0.action == "login" }.map(\.outcome)
            #expect(outcomes.first == "ok")
            #expect(outcomes.filter { $0 == "refused" }.count == Accounts.failureLimit)
            #expect(outcomes.filter { $0 == "throttled" }.count == 40 - Accounts.failureLimit + 1)
        }
    }

    @Test func aNameThatIsNoAccountIsThrottledAlikeAndThenChecksNoPassword() async throws {
        let harness = try ConsoleFixtures.harness()
        let passwords = PasswordChecks()
        try await ConsolePagesTests.withConsole(harness, passwords: passwords) { browser, _ in
            let statuses = try await Self.loginsAtOnce(Accounts.failureLimit + 3, "nobody", "anything at all", through: browser)
            #expect(statuses.filter { $0 == .unauthorized }.count == Accounts.failureLimit)
            #expect(statuses.filter { $0 == .tooManyRequests }.count == 3)
            #expect(passwords.started == Accounts.failureLimit, "each attempt let through costs a hash, a throttled one none")
            let audit = try await harness.read { db in try Accounts.auditLog(in: db) }
            #expect(audit.allSatisfy { $0.account == "(unknown account)" })
        }
    }

    /// Counts the checks running at once, and the most there were.
    final class Tally: Sendable {
        private let counts = Mutex((running: 0, most: 0))
        var most: Int { counts.withLock { $0.most } }
        func begin() {
            counts.withLock {
                $0.running += 1
                $0.most = max($0.most, $0.running)
            }
        }
        func end() { counts.withLock { $0.running -= 1 } }
    }

    /// Runs `count` checks on `checks` at once, each doing `work` with its index; returns the
    /// indices as the checks end.
    static func flood(_ checks: PasswordChecks, count: Int, _ work: @escaping @Sendable (Int) -> Void) async -> [Int] {
        await withTaskGroup(of: Int.self) { group in
            for index in 0..<count {
                group.addTask {
                    await checks.run {
                        work(index)
                        return index
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
    }

    /// Waits for `semaphore` on a thread outside the cooperative pool: false after 30 s.
    static func signalled(_ semaphore: DispatchSemaphore) async -> Bool {
        await WorkerThread(label: "signalled").run { semaphore.wait(timeout: .now() + 30) == .success }
    }

    /// A flood of logins waits in a line of bounded length: a login that finds it full is turned
    /// away at once (503, Retry-After), neither counted against the account nor checked, and
    /// logins go through again once the line moves.
    @Test func aLoginThatFindsTheLineFullIsTurnedAwayUncounted() async throws {
        let harness = try ConsoleFixtures.harness()
        let passwords = PasswordChecks(width: 1, maxWaiting: 2)
        try await ConsolePagesTests.withConsole(harness, passwords: passwords) { browser, _ in
            // One check holds the only queue, two wait behind it: the line is full.
            let began = DispatchSemaphore(value: 0)
            let gate = DispatchSemaphore(value: 0)
            async let flood = Self.flood(passwords, count: 3) { index in
                if index == 0 {
                    began.signal()
                    gate.wait()
                }
            }
            #expect(await Self.signalled(began), "a check holds the queue")
            #expect(await eventually(within: 10) { passwords.isFull }, "two checks wait")

            // (were it let into the line, it would wait for the held check: let go after 10 s)
            let release = Task {
                try? await Task.sleep(for: .seconds(10))
                gate.signal()
            }
            let turnedAway = try await browser.login("mai")
            release.cancel()
            #expect(turnedAway.status == .serviceUnavailable)
            #expect(turnedAway.headers[.retryAfter] == "10")
            #expect(turnedAway.body.contains("Too many people are logging in right now"))
            #expect(passwords.started == 1, "no password checked")
            #expect(try await harness.read { db in try Accounts.auditLog(in: db) }.isEmpty, "no attempt counted")

            gate.signal()
            #expect(await flood.sorted() == [0, 1, 2])
            #expect(try await browser.login("mai").status == .seeOther)
        }
    }

    @Test func noMoreThanTwoChecksRunAtOnceAndTheOthersWaitTheirTurn() async throws {
        let checks = PasswordChecks(width: 2)
        let tally = Tally()
        let began = DispatchSemaphore(value: 0)
        let gate = DispatchSemaphore(value: 0)
        async let results = Self.flood(checks, count: 6) { _ in
            tally.begin()
            began.signal()
            gate.wait()
            tally.end()
        }
        // Each check holds its queue until let through: two begin, then one more as each ends.
        #expect(await Self.signalled(began), "a check began")
        #expect(await Self.signalled(began), "a second check began")
        for _ in 0..<4 {
            gate.signal()
            #expect(await Self.signalled(began), "one more began as one ended")
        }
        gate.signal()
        gate.signal()
        #expect(await results.sorted() == Array(0..<6))
        #expect(tally.most == 2)
        #expect(checks.started == 6)
    }
}
