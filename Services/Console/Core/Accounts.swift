import Crypto
import Foundation
import GRDB
import Messages
import _CryptoExtras

/// The console's own accounts: passwords kept as scrypt hashes, sessions as random tokens kept
/// hashed, each with its CSRF token, failed logins counted per account and per client address,
/// and every action in the audit log.
public enum Accounts {
    public enum Role: String, Sendable, CaseIterable, Codable {
        /// Sees everything and acts (cancel, overrides, re-optimisation).
        case organiser
        /// Sees everything, acts on nothing but check-in.
        case marshal
        /// Sees everything.
        case viewer
    }

    public struct Account: Sendable, Equatable {
        public var name: String
        public var role: Role
        /// Granted the `personal-data` role as well: sees identity document numbers (in the
        /// manifests), every viewing of them audited.
        public var personalData: Bool

        public init(name: String, role: Role, personalData: Bool = false) {
            self.name = name
            self.role = role
            self.personalData = personalData
        }

        /// `organiser`, or `organiser, personal-data`.
        public var roles: String { personalData ? "\(role.rawValue), personal-data" : role.rawValue }
    }

    public struct Session: Sendable, Equatable {
        public var account: Account
        public var csrf: String
        public var expiresAt: Date
    }

    public enum Problem: Error, CustomStringConvertible, Equatable {
        case invalidName(String)
        case weakPassword
        case exists(String)
        case unknown(String)

        public var description: String {
            switch self {
            case .invalidName(let name):
                return "'\(name)' is not an account name (letters, digits, '.', '_' or '-', 1 to 64 characters)"
            case .weakPassword: return "a password needs at least 12 characters"
            case .exists(let name): return "an account '\(name)' exists already"
            case .unknown(let name): return "no account '\(name)'"
            }
        }
    }

    /// scrypt's cost: N = 2^15, r = 8, p = 1 (32 MiB and ~0.1 s a hash on the development machine).
    public struct Cost: Sendable, Equatable {
        public var rounds: Int
        public var blockSize: Int
        public var parallelism: Int
        public static let standard = Cost(rounds: 1 << 15, blockSize: 8, parallelism: 1)
        /// For tests only: fast and weak.
        public static let testing = Cost(rounds: 1 << 4, blockSize: 8, parallelism: 1)
    }

    /// Failed logins allowed per account, and per client address, within `failureWindow`.
    public static let failureLimit = 5
    public static let addressFailureLimit = 20
    public static let failureWindow: TimeInterval = 15 * 60

    // MARK: Accounts

    /// Whether `name` can be an account's name (what the audit log may record of a login).
    public static func isAccountName(_ name: String) -> Bool {
        name.range(of: "^[A-Za-z0-9._-]{1,64}$", options: .regularExpression) != nil
    }

    public static func add(
        name: String, role: Role, personalData: Bool = false, password: String, cost: Cost = .standard, now: Date = Date(),
        in db: Database
    ) throws {
        guard isAccountName(name) else { throw Problem.invalidName(name) }
        guard password.count >= 12 else { throw Problem.weakPassword }
        guard try account(name, in: db) == nil else { throw Problem.exists(name) }
        try db.execute(
            sql: "INSERT INTO accounts (name, role, personal_data, password, created_at) VALUES (?, ?, ?, ?, ?)",
            arguments: [name, role.rawValue, personalData, try hash(password, cost: cost), MessageCoding.formatSortable(now)])
    }

    /// Changes an account's role and grant; its sessions carry on with the new ones (every
    /// request reads them).
    public static func setRole(name: String, role: Role, personalData: Bool, in db: Database) throws {
        try db.execute(
            sql: "UPDATE accounts SET role = ?, personal_data = ? WHERE name = ?", arguments: [role.rawValue, personalData, name])
        guard db.changesCount > 0 else { throw Problem.unknown(name) }
    }

    public static func remove(name: String, in db: Database) throws {
        try db.execute(sql: "DELETE FROM accounts WHERE name = ?", arguments: [name])
        guard db.changesCount > 0 else { throw Problem.unknown(name) }
    }

    public static func setPassword(name: String, password: String, cost: Cost = .standard, in db: Database) throws {
        guard password.count >= 12 else { throw Problem.weakPassword }
        try db.execute(sql: "UPDATE accounts SET password = ? WHERE name = ?", arguments: [try hash(password, cost: cost), name])
        guard db.changesCount > 0 else { throw Problem.unknown(name) }
        // A new password ends every session of the account.
        try db.execute(sql: "DELETE FROM sessions WHERE account = ?", arguments: [name])
    }

    public static func account(_ name: String, in db: Database) throws -> Account? {
        try Row.fetchOne(db, sql: "SELECT name, role, personal_data FROM accounts WHERE name = ?", arguments: [name]).flatMap(account)
    }

    public static func all(in db: Database) throws -> [Account] {
        try Row.fetchAll(db, sql: "SELECT name, role, personal_data FROM accounts ORDER BY name").compactMap(account)
    }

    private static func account(_ row: Row) -> Account? {
        Role(rawValue: row["role"]).map { Account(name: row["name"], role: $0, personalData: row["personal_data"]) }
    }

    // MARK: Logging in

    public enum LoginOutcome: Sendable, Equatable {
        /// The session's token (for the cookie; only its hash is kept).
        case success(token: String, Session)
        case refused
        /// Too many failures for this account or this address: try again after the window.
        case throttled
    }

    /// A login attempt counted already as a failure of the account and of the address, and
    /// what its password is to be checked against (outside any transaction: the check takes
    /// ~0.1 s and 32 MiB).
    public struct LoginCheck: Sendable {
        public let name: String
        public let address: String
        /// When the attempt was reserved: the time of its provisional failures.
        let at: Date
        /// The stored hash, nil for an unknown account.
        let stored: String?

        /// What the password is checked against: for an unknown account a hash of the same cost
        /// (so the time of a refusal says nothing of whether the account exists).
        public var hash: String { stored ?? Accounts.dummyHash }
    }

    public enum LoginReservation: Sendable {
        /// Too many failures for the account or the address: no password is checked.
        case throttled
        /// Counted as a failure until `concludeLogin` says the password matched.
        case reserved(LoginCheck)
    }

    /// Reserves a login attempt before its password is checked, so that no number of attempts at
    /// once gets more than `failureLimit` guesses an account (`addressFailureLimit` an address)
    /// within `failureWindow`: counts the failures, and unless either is at its limit records
    /// one more for the account and one for the address, all in `db`'s one write transaction.
    /// Counting is by the name as typed, so a throttled answer tells nothing of whether the
    /// account exists. The address's limit is higher: several people may share one, behind a proxy.
    public static func reserveLogin(name: String, address: String, now: Date = Date(), in db: Database) throws -> LoginReservation {
        let at = MessageCoding.formatSortable(now)
        let since = MessageCoding.formatSortable(now.addingTimeInterval(-failureWindow))
        try db.execute(sql: "DELETE FROM login_failures WHERE at < ?", arguments: [since])
        func failures(_ key: String) throws -> Int {
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM login_failures WHERE key = ? AND at >= ?", arguments: [key, since]) ?? 0
        }
        guard try failures("account:\(name)") < failureLimit, try failures("address:\(address)") < addressFailureLimit else {
            return .throttled
        }
        for key in ["account:\(name)", "address:\(address)"] {
            try db.execute(sql: "INSERT INTO login_failures (key, at) VALUES (?, ?)", arguments: [key, at])
        }
        let stored = try String.fetchOne(db, sql: "SELECT password FROM accounts WHERE name = ?", arguments: [name])
        return .reserved(LoginCheck(name: name, address: address, at: now, stored: stored))
    }

    /// Concludes a reserved login whose password was checked: a wrong one (or no such account)
    /// leaves its failures counted; the right one takes them back, ends the account's other
    /// failures, and opens a session.
    public static func concludeLogin(_ check: LoginCheck, matched: Bool, lifetime: TimeInterval, now: Date = Date(), in db: Database) throws
        -> LoginOutcome
    {
        guard matched, check.stored != nil, let account = try account(check.name, in: db) else { return .refused }
        try db.execute(sql: "DELETE FROM login_failures WHERE key = ?", arguments: ["account:\(check.name)"])
        try db.execute(
            sql: """
                DELETE FROM login_failures WHERE rowid IN (SELECT rowid FROM login_failures WHERE key = ? AND at = ? LIMIT 1)
                """, arguments: ["address:\(check.address)", MessageCoding.formatSortable(check.at)])
        try db.execute(sql: "DELETE FROM sessions WHERE expires_at < ?", arguments: [MessageCoding.formatSortable(now)])
        let token = randomToken()
        let session = Session(account: account, csrf: randomToken(), expiresAt: now.addingTimeInterval(lifetime))
        try db.execute(
            sql: "INSERT INTO sessions (token_hash, account, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
            arguments: [
                tokenHash(token), check.name, session.csrf, MessageCoding.formatSortable(now),
                MessageCoding.formatSortable(session.expiresAt),
            ])
        return .success(token: token, session)
    }

    /// A whole login in one transaction, the password checked inside it (for tools and tests;
    /// the pages check it outside, through `PasswordChecks`).
    public static func login(
        name: String, password: String, address: String, lifetime: TimeInterval, now: Date = Date(), in db: Database
    ) throws -> LoginOutcome {
        guard case .reserved(let check) = try reserveLogin(name: name, address: address, now: now, in: db) else { return .throttled }
        return try concludeLogin(check, matched: verify(password, against: check.hash), lifetime: lifetime, now: now, in: db)
    }

    /// The session a cookie's token names, if it has not expired.
    public static func session(token: String, now: Date = Date(), in db: Database) throws -> Session? {
        guard
            let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT accounts.name, accounts.role, accounts.personal_data, sessions.csrf, sessions.expires_at
                    FROM sessions JOIN accounts ON accounts.name = sessions.account
                    WHERE sessions.token_hash = ? AND sessions.expires_at > ?
                    """, arguments: [tokenHash(token), MessageCoding.formatSortable(now)]),
            let account = account(row), let expiresAt = MessageCoding.parse(row["expires_at"])
        else { return nil }
        return Session(account: account, csrf: row["csrf"], expiresAt: expiresAt)
    }

    public static func logout(token: String, in db: Database) throws {
        try db.execute(sql: "DELETE FROM sessions WHERE token_hash = ?", arguments: [tokenHash(token)])
    }

    // MARK: Audit

    public struct AuditEntry: Sendable, Equatable {
        public var at: Date
        public var account: String
        public var action: String
        public var subject: String?
        public var outcome: String
    }

    /// Records what an account did (or tried): never a password, never a person's details.
    public static func audit(account: String, action: String, subject: String? = nil, outcome: String, now: Date = Date(), in db: Database)
        throws
    {
        try db.execute(
            sql: "INSERT INTO audit (at, account, action, subject, outcome) VALUES (?, ?, ?, ?, ?)",
            arguments: [MessageCoding.formatSortable(now), account, action, subject, outcome])
    }

    public static func auditLog(limit: Int = 200, in db: Database) throws -> [AuditEntry] {
        try Row.fetchAll(db, sql: "SELECT * FROM audit ORDER BY id DESC LIMIT ?", arguments: [limit]).map { row in
            AuditEntry(
                at: MessageCoding.parse(row["at"]) ?? .distantPast, account: row["account"], action: row["action"], subject: row["subject"],
                outcome: row["outcome"])
        }
    }

    // MARK: Hashing

    /// `scrypt$N$r$p$salt$hash` (salt and hash in base64).
    static func hash(_ password: String, cost: Cost) throws -> String {
        var salt = [UInt8](repeating: 0, count: 16)
        var generator = SystemRandomNumberGenerator()
        for index in salt.indices { salt[index] = UInt8.random(in: 0...255, using: &generator) }
        let key = try KDF.Scrypt.deriveKey(
            from: Array(password.utf8), salt: salt, outputByteCount: 32, rounds: cost.rounds, blockSize: cost.blockSize,
            parallelism: cost.parallelism)
        let derived = key.withUnsafeBytes { Data($0) }
        return [
            "scrypt", "\(cost.rounds)", "\(cost.blockSize)", "\(cost.parallelism)", Data(salt).base64EncodedString(),
            derived.base64EncodedString(),
        ]
        .joined(separator: "$")
    }

    static func verify(_ password: String, against stored: String) -> Bool {
        let parts = stored.split(separator: "$").map(String.init)
        guard parts.count == 6, parts[0] == "scrypt", let rounds = Int(parts[1]), let blockSize = Int(parts[2]),
            let parallelism = Int(parts[3]), let salt = Data(base64Encoded: parts[4]), let expected = Data(base64Encoded: parts[5]),
            let key = try? KDF.Scrypt.deriveKey(
                from: Array(password.utf8), salt: salt, outputByteCount: expected.count, rounds: rounds, blockSize: blockSize,
                parallelism: parallelism)
        else { return false }
        let derived = key.withUnsafeBytes { Data($0) }
        return sameBytes(Array(derived), Array(expected))
    }

    /// Whether two byte strings are equal, comparing every byte (time independent of where they differ).
    static func sameBytes(_ a: [UInt8], _ b: [UInt8]) -> Bool { a.count == b.count && zip(a, b).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0 }

    /// What an unknown account's password is checked against (so its time gives nothing away).
    static let dummyHash = (try? hash("no account has this password", cost: .standard)) ?? ""

    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func tokenHash(_ token: String) -> String { SHA256.hash(data: Data(token.utf8)).hexString }
}
