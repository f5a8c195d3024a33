import Crypto
import Foundation
import GRDB
import HummingbirdAuth

/// What an API token may do. Each scope includes the ones before it: `personal-data` reads
/// everything `read` does and, besides, anything with names, addresses, phones or identity
/// documents; `admin` may do everything.
public enum AccessScope: String, Codable, Sendable, CaseIterable, Comparable {
    case read
    case personalData = "personal-data"
    case admin

    public static func < (a: AccessScope, b: AccessScope) -> Bool {
        allCases.firstIndex(of: a) ?? 0 < allCases.firstIndex(of: b) ?? 0
    }
}

/// The caller a valid token names: never the secret, only which token it is.
public struct APIClient: PermissionProviding, Sendable, Equatable {
    public let tokenID: String
    public let name: String
    /// The highest scope granted.
    public let scope: AccessScope

    /// Every scope the token's includes.
    public var permissions: Set<AccessScope> { Set(AccessScope.allCases.filter { $0 <= scope }) }
}

/// An API token as the store keeps it (table `api_tokens`): its id and name, its scope, and the
/// SHA-256 of its secret. The secret itself is shown once, when the token is created.
///
/// A token reads `dlg_<id>_<secret>`: 12 hex digits naming the row, then 64 hex digits of
/// secret (32 random bytes). A fast hash is enough for secrets that random; the comparison takes
/// the same time whatever the digest.
public struct APIToken: StoreRecord, Equatable {
    public static let databaseTableName = "api_tokens"

    public var id: String
    public var name: String
    public var scope: AccessScope
    public var secretDigest: Data
    public var createdAt: Date
    public var revokedAt: Date?

    enum CodingKeys: String, CodingKey {
        case id, name, scope, secretDigest = "secret_digest", createdAt = "created_at", revokedAt = "revoked_at"
    }

    static let prefix = "dlg_"

    /// A new token: the row to insert and the text to hand to its holder.
    public static func make(name: String, scope: AccessScope, now: Date = Date()) -> (token: APIToken, secret: String) {
        var generator = SystemRandomNumberGenerator()
        let id = (0..<6).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
        let secret = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
        return (
            APIToken(id: id, name: name, scope: scope, secretDigest: digest(secret), createdAt: now, revokedAt: nil),
            "\(prefix)\(id)_\(secret)"
        )
    }

    static func digest(_ secret: String) -> Data { Data(SHA256.hash(data: Data(secret.utf8))) }

    /// The id and secret of a presented token, or nil if it is not shaped like one.
    static func parse(_ presented: String) -> (id: String, secret: String)? {
        let parts = presented.split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count == 3, "\(parts[0])_" == prefix, parts[1].count == 12, parts[2].count == 64,
            (parts[1] + parts[2]).allSatisfy(\.isHexDigit)
        else { return nil }
        return (String(parts[1]), String(parts[2]))
    }

    /// Whether `secret` is this token's, compared in constant time.
    func matches(secret: String) -> Bool {
        let presented = Self.digest(secret)
        guard presented.count == secretDigest.count else { return false }
        return zip(presented, secretDigest).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}

/// The store's API tokens: created and revoked by each service's `tokens` command, checked on
/// every HTTP request.
public enum APITokens {
    public static func insert(_ token: APIToken, in db: Database) throws { try token.insert(db) }

    /// Revokes a token by id; false if there is no such token or it was already revoked.
    public static func revoke(id: String, now: Date = Date(), in db: Database) throws -> Bool {
        guard var token = try APIToken.record(db, key: id), token.revokedAt == nil else { return false }
        token.revokedAt = now
        try token.update(db)
        return true
    }

    public static func all(in db: Database) throws -> [APIToken] {
        try APIToken.records(db, APIToken.order(Column("created_at"), Column("id")))
    }

    /// Whether endpoints ask for a token: once any token has been created, every endpoint but
    /// `/health/*` does, also after every token is revoked (revoking a leaked last token must
    /// not open the doors; nobody gets in until a new one is created).
    public static func enforced(in db: Database) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM api_tokens)") ?? false
    }

    /// Whether any token is in force (not revoked).
    public static func anyInForce(in db: Database) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM api_tokens WHERE revoked_at IS NULL)") ?? false
    }

    /// The caller a presented token names, or nil if it is unknown, revoked or wrong.
    public static func client(presenting presented: String, in db: Database) throws -> APIClient? {
        guard let (id, secret) = APIToken.parse(presented), let token = try APIToken.record(db, key: id), token.revokedAt == nil,
            token.matches(secret: secret)
        else { return nil }
        return APIClient(tokenID: token.id, name: token.name, scope: token.scope)
    }

    static func registerMigration(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("runtime-5") { db in
            try db.execute(
                sql: """
                    CREATE TABLE api_tokens (
                        id TEXT PRIMARY KEY,
                        name TEXT NOT NULL,
                        scope TEXT NOT NULL,
                        secret_digest BLOB NOT NULL,
                        created_at TEXT NOT NULL,
                        revoked_at TEXT
                    );
                    """)
        }
    }
}
