import Foundation
import GRDB
import TestSupport
import Testing

@testable import ConsoleCore

/// Accounts, passwords and sessions on a real store, no HTTP.
@Suite struct AccountsTests {
    @Test func aPasswordIsKeptOnlyAsAScryptHashThatVerifies() throws {
        let stored = try Accounts.hash("correct horse battery", cost: .testing)
        #expect(stored.hasPrefix("scrypt$16$8$1$"))
        #expect(!stored.contains("correct horse"))
        #expect(Accounts.verify("correct horse battery", against: stored))
        #expect(!Accounts.verify("correct horse batterY", against: stored))
        #expect(!Accounts.verify("correct horse battery", against: "scrypt$garbage"))
        #expect(try Accounts.hash("correct horse battery", cost: .testing) != stored, "each hash has its own salt")
    }

    @Test func namesAndPasswordsAreCheckedAndSessionsExpire() async throws {
        let harness = try ConsoleFixtures.harness()
        try await harness.write { db in
            #expect(throws: Accounts.Problem.weakPassword) {
                try Accounts.add(name: "mai", role: .organiser, password: "short", cost: .testing, in: db)
            }
            #expect(throws: Accounts.Problem.invalidName("mai tran")) {
                try Accounts.add(name: "mai tran", role: .organiser, password: "long enough password", cost: .testing, in: db)
            }
            try Accounts.add(name: "mai", role: .organiser, password: "long enough password", cost: .testing, in: db)
            #expect(throws: Accounts.Problem.exists("mai")) {
                try Accounts.add(name: "mai", role: .viewer, password: "long enough password", cost: .testing, in: db)
            }
            let now = Date(timeIntervalSince1970: 1_800_000_000)
            guard
                case .success(let token, let session) = try Accounts.login(
                    name: "mai", password: "long enough password", address: "127.0.0.1", lifetime: 3600, now: now, in: db)
            else {
                Issue.record("the right password logs in")
                return
            }
            #expect(session.account.role == .organiser)
            #expect(try Accounts.session(token: token, now: now.addingTimeInterval(3599), in: db)?.csrf == session.csrf)
            #expect(try Accounts.session(token: token, now: now.addingTimeInterval(3601), in: db) == nil, "a session ends")
            #expect(
                try String.fetchAll(db, sql: "SELECT token_hash FROM sessions").allSatisfy { $0 != token }, "only the token's hash is kept")
            // A new password ends the account's sessions.
            try Accounts.setPassword(name: "mai", password: "another long password", cost: .testing, in: db)
            #expect(try Accounts.session(token: token, now: now, in: db) == nil)
        }
    }

    @Test func aRoleOrThePersonalDataGrantChangesForTheSessionsAlreadyOpen() async throws {
        let harness = try ConsoleFixtures.harness()
        try await harness.write { db in
            try Accounts.add(name: "an", role: .marshal, personalData: true, password: "long enough password", cost: .testing, in: db)
            guard
                case .success(let token, let session) = try Accounts.login(
                    name: "an", password: "long enough password", address: "10.0.0.1", lifetime: 600, in: db)
            else { throw Accounts.Problem.unknown("an") }
            #expect(session.account == Accounts.Account(name: "an", role: .marshal, personalData: true))
            #expect(session.account.roles == "marshal, personal-data")
            try Accounts.setRole(name: "an", role: .viewer, personalData: false, in: db)
            #expect(try Accounts.session(token: token, in: db)?.account == Accounts.Account(name: "an", role: .viewer))
            #expect(throws: Accounts.Problem.unknown("nobody")) {
                try Accounts.setRole(name: "nobody", role: .viewer, personalData: true, in: db)
            }
        }
    }

    @Test func failuresCountPerAccountAndPerAddressWithinTheWindow() async throws {
        let harness = try ConsoleFixtures.harness()
        try await harness.write { db in
            try Accounts.add(name: "mai", role: .organiser, password: "long enough password", cost: .testing, in: db)
            try Accounts.add(name: "tuan", role: .marshal, password: "long enough password", cost: .testing, in: db)
            let now = Date(timeIntervalSince1970: 1_800_000_000)
            for index in 0..<Accounts.addressFailureLimit {
                #expect(
                    try Accounts.login(name: "nobody-\(index)", password: "x", address: "10.0.0.9", lifetime: 60, now: now, in: db)
                        == .refused)
            }
            #expect(
                try Accounts.login(name: "tuan", password: "long enough password", address: "10.0.0.9", lifetime: 60, now: now, in: db)
                    == .throttled)
            if case .success = try Accounts.login(
                name: "tuan", password: "long enough password", address: "10.0.0.8", lifetime: 60, now: now, in: db)
            {
            } else {
                Issue.record("another address is not throttled")
            }
            let later = now.addingTimeInterval(Accounts.failureWindow + 1)
            if case .success = try Accounts.login(
                name: "mai", password: "long enough password", address: "10.0.0.9", lifetime: 60, now: later, in: db)
            {
            } else {
                Issue.record("the window passes")
            }
        }
    }

    @Test func failuresForOneAccountFromAnyAddressStopThatAccountOnly() async throws {
        let harness = try ConsoleFixtures.harness()
        try await harness.write { db in
            try Accounts.add(name: "mai", role: .organiser, password: "long enough password", cost: .testing, in: db)
            try Accounts.add(name: "tuan", role: .marshal, password: "long enough password", cost: .testing, in: db)
            let now = Date(timeIntervalSince1970: 1_800_000_000)
            for index in 0..<Accounts.failureLimit {
                #expect(
                    try Accounts.login(name: "mai", password: "wrong", address: "10.0.1.\(index)", lifetime: 60, now: now, in: db)
                        == .refused)
            }
            #expect(
                try Accounts.login(name: "mai", password: "long enough password", address: "10.0.2.1", lifetime: 60, now: now, in: db)
                    == .throttled)
            if case .success = try Accounts.login(
                name: "tuan", password: "long enough password", address: "10.0.1.0", lifetime: 60, now: now, in: db)
            {
            } else {
                Issue.record("another account from the same addresses is not throttled")
            }
        }
    }

    @Test func anAttemptCountsAsAFailureFromTheMomentItIsReserved() async throws {
        let harness = try ConsoleFixtures.harness()
        try await harness.write { db in
            try Accounts.add(name: "mai", role: .organiser, password: "long enough password", cost: .testing, in: db)
            let now = Date(timeIntervalSince1970: 1_800_000_000)
            // Attempts whose passwords are still being checked count against the next one.
            for index in 0..<Accounts.failureLimit {
                guard case .reserved = try Accounts.reserveLogin(name: "mai", address: "10.0.3.\(index)", now: now, in: db) else {
                    Issue.record("attempt \(index + 1) is let through")
                    return
                }
            }
            guard case .throttled = try Accounts.reserveLogin(name: "mai", address: "10.0.3.9", now: now, in: db) else {
                Issue.record("the attempt after the limit is throttled before any password is checked")
                return
            }
        }
    }

    @Test func aLoginThatSucceedsTakesBackTheFailureItWasCountedAs() async throws {
        let harness = try ConsoleFixtures.harness()
        try await harness.write { db in
            try Accounts.add(name: "tuan", role: .marshal, password: "long enough password", cost: .testing, in: db)
            let now = Date(timeIntervalSince1970: 1_800_000_000)
            for index in 0..<(Accounts.addressFailureLimit - 1) {
                try Accounts.add(name: "user-\(index)", role: .viewer, password: "long enough password", cost: .testing, in: db)
                #expect(
                    try Accounts.login(name: "user-\(index)", password: "wrong", address: "10.0.0.9", lifetime: 60, now: now, in: db)
                        == .refused)
            }
            // The one attempt the address has left, again and again: each success gives it back.
            for _ in 0..<3 {
                guard
                    case .success = try Accounts.login(
                        name: "tuan", password: "long enough password", address: "10.0.0.9", lifetime: 60, now: now, in: db)
                else {
                    Issue.record("the right password logs in")
                    return
                }
            }
            #expect(try Accounts.login(name: "user-0", password: "wrong", address: "10.0.0.9", lifetime: 60, now: now, in: db) == .refused)
            #expect(
                try Accounts.login(name: "tuan", password: "long enough password", address: "10.0.0.9", lifetime: 60, now: now, in: db)
                    == .throttled)
        }
    }
}
