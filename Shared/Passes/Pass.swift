import Crypto
import Foundation
import QRCode

/// A delegate's pass for the day itself: what a marshal scans at the bus door or the venue gate.
/// It names the event, the registration and the person by their place in the delegation, and
/// when it expires; nothing personal. The QR code holds the signed token; a short code printed
/// under it is typed where no camera works.
///
/// Token: `DP1.<key id>.<payload>.<signature>`, the payload `eventID`, `registrationID`,
/// `person` and the expiry (seconds since 1970) joined by `~`, base64url without padding; the
/// signature the first 16 bytes of HMAC-SHA256 over `DP1.<key id>.<payload>` under that key,
/// base64url. Keys rotate: the first of `PassKeys` signs, any of them verifies.
public struct Pass: Sendable, Hashable {
    public var eventID: String
    public var registrationID: String
    /// The person's place in the delegation: 1 for its first delegate.
    public var person: Int
    public var expires: Date

    public init(eventID: String, registrationID: String, person: Int, expires: Date) {
        self.eventID = eventID
        self.registrationID = registrationID
        self.person = person
        self.expires = expires
    }

    /// What a token is for: its first part, so that one never stands for the other.
    public enum Use: String, Sendable {
        /// A pass (`DP1`), scanned at the bus door or the gate.
        case pass = "DP1"
        /// A lead's link to answer who of their delegation will not come (`DA1`; `person` 0).
        case answer = "DA1"
    }

    /// When an event's passes expire: the end of the day after its last day (`YYYY-MM-DD`) in
    /// its zone.
    public static func expiry(lastDay: String, zone: String) -> Date? {
        let parts = lastDay.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 3, let timeZone = TimeZone(identifier: zone) else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        return calendar.date(from: DateComponents(year: parts[0], month: parts[1], day: parts[2] + 2))
    }

    /// The signed token (what the QR code holds).
    public func token(_ keys: PassKeys, for use: Use = .pass) -> String {
        let key = keys.current
        let payload = Self.base64URL(
            Data([eventID, registrationID, String(person), String(Int(expires.timeIntervalSince1970))].joined(separator: "~").utf8))
        let signed = "\(use.rawValue).\(key.id).\(payload)"
        return "\(signed).\(Self.base64URL(Self.signature(signed, key.secret)))"
    }

    /// The pass a token names, if its signature holds under one of `keys` and it has not expired.
    public static func verify(_ token: String, keys: PassKeys, now: Date = Date(), for use: Use = .pass) throws(PassError) -> Pass {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 4, parts[0] == use.rawValue else { throw .malformed }
        guard let key = keys.keys.first(where: { $0.id == parts[1] }) else { throw .unknownKey(parts[1]) }
        guard let signature = base64URLDecoded(parts[3]), let payloadBytes = base64URLDecoded(parts[2]) else { throw .malformed }
        guard signature.count == 16 && sameBytes(signature, Self.signature("\(parts[0]).\(parts[1]).\(parts[2])", key.secret)) else {
            throw .forged
        }
        let payload = String(decoding: payloadBytes, as: UTF8.self)
        let fields = payload.split(separator: "~", omittingEmptySubsequences: false).map(String.init)
        guard fields.count == 4, let person = Int(fields[2]), let seconds = Int(fields[3]) else { throw .malformed }
        let pass = Pass(
            eventID: fields[0], registrationID: fields[1], person: person, expires: Date(timeIntervalSince1970: Double(seconds)))
        guard now < pass.expires else { throw .expired(pass.expires) }
        return pass
    }

    /// Eight characters (Crockford's base32: no I, L, O or U) printed under the QR code, for a
    /// marshal to type; the marshal's page finds it among the passes of the bus or gate.
    public func shortCode(_ keys: PassKeys) -> String {
        let mac = Self.signature("short~\(eventID)~\(registrationID)~\(person)", keys.current.secret)
        let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
        var bits = 0
        var value = 0
        var code = ""
        for byte in mac where code.count < 8 {
            value = (value << 8) | Int(byte)
            bits += 8
            while bits >= 5, code.count < 8 {
                bits -= 5
                code.append(alphabet[(value >> bits) & 31])
            }
        }
        return code
    }

    /// The QR code of the token.
    public func qrCode(_ keys: PassKeys) throws(QRCode.Problem) -> QRCode { try QRCode(token(keys), correction: .medium) }

    static func signature(_ text: String, _ secret: SymmetricKey) -> Data {
        Data(HMAC<SHA256>.authenticationCode(for: Data(text.utf8), using: secret).prefix(16))
    }

    /// Base64url without padding (RFC 4648 §5), as tokens carry bytes.
    public static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    public static func base64URLDecoded(_ text: String) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64)
    }

    static func sameBytes(_ a: Data, _ b: Data) -> Bool { a.count == b.count && zip(a, b).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0 }
}

/// Why a scanned pass is refused. Names nothing it holds.
public enum PassError: Error, Sendable, Equatable, CustomStringConvertible {
    case malformed
    case unknownKey(String)
    case forged
    case expired(Date)

    public var description: String {
        switch self {
        case .malformed: "not a pass"
        case .unknownKey(let id): "signed with key '\(id)', which is not (or no longer) one of the pass keys"
        case .forged: "its signature does not hold: altered, or not ours"
        case .expired(let date): "expired at \(ISO8601DateFormatter().string(from: date))"
        }
    }
}

/// The keys passes are signed with: the first signs, every one verifies (rotation: put the new
/// key first, keep the old one until the passes it signed have expired).
public struct PassKeys: Sendable {
    public struct Key: Sendable {
        public let id: String
        let raw: Data
        var secret: SymmetricKey { SymmetricKey(data: raw) }
    }

    public let keys: [Key]
    public var current: Key { keys[0] }

    /// `id:base64[,id:base64…]`, each key 32 bytes or more.
    public init(spec: String) throws(PassKeyError) {
        var keys: [Key] = []
        for part in spec.split(separator: ",") {
            let pair = part.trimmingCharacters(in: .whitespaces).split(separator: ":", maxSplits: 1).map(String.init)
            guard pair.count == 2, !pair[0].isEmpty, pair[0].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
                throw .format
            }
            guard let secret = Data(base64Encoded: pair[1]), secret.count >= 32 else { throw .short(pair[0]) }
            guard !keys.contains(where: { $0.id == pair[0] }) else { throw .duplicate(pair[0]) }
            keys.append(Key(id: pair[0], raw: secret))
        }
        guard !keys.isEmpty else { throw .format }
        self.keys = keys
    }
}

public enum PassKeyError: Error, Sendable, Equatable, CustomStringConvertible {
    case format
    case short(String)
    case duplicate(String)

    public var description: String {
        switch self {
        case .format: "must be id:base64[,id:base64…] (ids of letters, digits, - or _)"
        case .short(let id): "key '\(id)' is not base64 of 32 bytes or more (openssl rand -base64 32)"
        case .duplicate(let id): "key '\(id)' is given twice"
        }
    }
}
