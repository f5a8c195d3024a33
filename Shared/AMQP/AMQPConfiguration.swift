/// Where and how to connect, parsed from an AMQP URL plus settings a URL does not carry.
///
/// `amqp://user:password@host:port/vhost` and `amqps://…` (TLS). The vhost is the URL path,
/// percent-decoded (`/` is `%2F`; an empty path means the default vhost `/`). Query parameters
/// from RabbitMQ's URI spec are honoured: `heartbeat` (seconds), `connection_timeout` (ms),
/// and for TLS `cacertfile`, `certfile`, `keyfile`, `verify` (`verify_peer` | `verify_none`).
///
/// Several nodes of one cluster go in the host part, separated by commas
/// (`amqp://user:password@10.0.0.1:5672,10.0.0.2:5672/vhost`): the connection starts on the
/// first that answers and, when it loses one, recovers on the next.
public struct AMQPConfiguration: Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int
    /// More nodes of the same cluster, tried in turn after `host:port`.
    public var failover: [Endpoint] = []
    public var virtualHost: String
    public var user: String
    public var password: String
    /// TLS settings; `nil` for plain `amqp://`.
    public var tls: TLS?
    /// Heartbeat interval in seconds (0 disables them; the broker may lower it). A dead broker
    /// or network is noticed within two intervals even on an idle connection.
    public var heartbeat: Int = 10
    /// How long connecting (TCP, TLS and the AMQP handshake) may take.
    public var connectTimeout: Double = 10
    /// Bound on any single blocking exchange with the broker (a write that cannot proceed, a
    /// declaration waiting for its reply). Past it the connection is dropped and recovered.
    public var ioTimeout: Double = 15
    /// How long `publish` waits for the broker's confirm before throwing `.timeout`.
    public var publishTimeout: Double = 30
    /// At most this many published messages wait for their confirm at once; more callers wait
    /// for a free slot (within their own `publishTimeout`).
    public var maxUnconfirmed: Int = 1024
    /// Name shown in the broker's connection list (`connection_name` client property).
    public var connectionName: String = "delegation"
    /// What happens after the connection is lost.
    public var recovery: Recovery = Recovery()

    /// One node's address.
    public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
        public var host: String
        public var port: Int

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        /// `host:port` (`[v6]:port`).
        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    /// `host:port` first, then `failover`.
    public var endpoints: [Endpoint] { [Endpoint(host: host, port: port)] + failover }

    /// This configuration aimed at `endpoint` (one of `endpoints`).
    public func at(_ endpoint: Endpoint) -> AMQPConfiguration {
        var copy = self
        copy.host = endpoint.host
        copy.port = endpoint.port
        return copy
    }

    public struct TLS: Sendable {
        /// PEM file of the CA(s) that sign the broker's certificate.
        public var caCertificateFile: String?
        /// Client certificate and key (PEM), for brokers that ask for one.
        public var certificateFile: String?
        public var keyFile: String?
        /// Verify the broker's certificate chain and host name (default true).
        public var verifyPeer: Bool = true

        public init(caCertificateFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil, verifyPeer: Bool = true) {
            self.caCertificateFile = caCertificateFile
            self.certificateFile = certificateFile
            self.keyFile = keyFile
            self.verifyPeer = verifyPeer
        }
    }

    /// Automatic recovery after a lost connection: reconnect with exponential backoff and
    /// jitter, re-declare the recorded topology, resume consumers, then deal with messages
    /// that were published but not yet confirmed.
    public struct Recovery: Sendable {
        public enum Unconfirmed: Sendable {
            /// Publish them again on the new connection; the caller still gets one result per
            /// message. The broker may then hold two copies (consumers dedupe by message id).
            case republish
            /// Fail them with `.connectionLost`; the caller decides.
            case fail
        }

        public var enabled: Bool = true
        public var initialDelay: Double = 0.1
        public var maxDelay: Double = 10
        public var unconfirmed: Unconfirmed = .republish

        public init(enabled: Bool = true, initialDelay: Double = 0.1, maxDelay: Double = 10, unconfirmed: Unconfirmed = .republish) {
            self.enabled = enabled
            self.initialDelay = initialDelay
            self.maxDelay = maxDelay
            self.unconfirmed = unconfirmed
        }

        /// The delay before reconnect attempt `attempt` (1-based): exponential, capped, with
        /// "equal jitter" so that many clients do not reconnect in lockstep.
        public func delay(forAttempt attempt: Int) -> Double {
            let growth = Double(1 << min(max(attempt - 1, 0), 30))
            let ceiling = min(maxDelay, initialDelay * growth)
            return ceiling / 2 + Double.random(in: 0...(ceiling / 2))
        }
    }

    public init(
        host: String = "127.0.0.1", port: Int = 5672, virtualHost: String = "/", user: String = "guest", password: String = "guest",
        tls: TLS? = nil
    ) {
        self.host = host
        self.port = port
        self.virtualHost = virtualHost
        self.user = user
        self.password = password
        self.tls = tls
    }

    /// Parses an `amqp://` or `amqps://` URL; throws `.invalidConfiguration` saying what is wrong.
    public init(url: String) throws {
        guard let schemeEnd = url.range(of: "://") else {
            throw AMQPError.invalidConfiguration("'\(Self.redact(url))' is not an AMQP URL (expected amqp://user:password@host:port/vhost)")
        }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "amqp" || scheme == "amqps" else {
            throw AMQPError.invalidConfiguration("unsupported URL scheme '\(scheme)' (use amqp:// or amqps://)")
        }
        var rest = Substring(url[schemeEnd.upperBound...])
        var query = Substring()
        if let q = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: q)...]
            rest = rest[..<q]
        }
        var path = Substring()
        if let slash = rest.firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        var userInfo: Substring?
        if let at = rest.lastIndex(of: "@") {
            userInfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
        }

        self.init()
        if scheme == "amqps" {
            tls = TLS()
            port = 5671
        }
        if let userInfo {
            let parts = userInfo.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            user = try Self.percentDecoded(parts[0], what: "user")
            password = parts.count > 1 ? try Self.percentDecoded(parts[1], what: "password") : ""
        }
        let defaultPort = port
        let endpoints = try rest.split(separator: ",", omittingEmptySubsequences: false).map { text in
            let (hostText, portText) = try Self.splitHostAndPort(text)
            var endpoint = Endpoint(host: hostText.isEmpty ? "localhost" : hostText, port: defaultPort)
            if let portText {
                guard let p = Int(portText), (1...65535).contains(p) else {
                    throw AMQPError.invalidConfiguration("port '\(portText)' is not a number from 1 to 65535")
                }
                endpoint.port = p
            }
            return endpoint
        }
        (host, port) = (endpoints[0].host, endpoints[0].port)
        failover = Array(endpoints.dropFirst())
        virtualHost = path.isEmpty ? "/" : try Self.percentDecoded(path, what: "vhost")

        for pair in query.split(separator: "&") where !pair.isEmpty {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(kv[0])
            let value = kv.count > 1 ? try Self.percentDecoded(kv[1], what: key) : ""
            switch key {
            case "heartbeat":
                guard let seconds = Int(value), seconds >= 0, seconds <= 65535 else {
                    throw AMQPError.invalidConfiguration("heartbeat '\(value)' must be whole seconds from 0 to 65535")
                }
                heartbeat = seconds
            case "connection_timeout":
                guard let ms = Int(value), ms > 0 else {
                    throw AMQPError.invalidConfiguration("connection_timeout '\(value)' must be milliseconds above 0")
                }
                connectTimeout = Double(ms) / 1000
            case "cacertfile", "certfile", "keyfile", "verify":
                guard tls != nil else {
                    throw AMQPError.invalidConfiguration("'\(key)' needs an amqps:// URL")
                }
                switch key {
                case "cacertfile": tls?.caCertificateFile = value
                case "certfile": tls?.certificateFile = value
                case "keyfile": tls?.keyFile = value
                default:
                    guard value == "verify_peer" || value == "verify_none" else {
                        throw AMQPError.invalidConfiguration("verify '\(value)' must be verify_peer or verify_none")
                    }
                    tls?.verifyPeer = value == "verify_peer"
                }
            case "connection_name":
                connectionName = value
            default:
                throw AMQPError.invalidConfiguration(
                    "unknown URL parameter '\(key)' "
                        + "(known: heartbeat, connection_timeout, connection_name, cacertfile, certfile, keyfile, verify)"
                )
            }
        }
    }

    /// `host:port`, for messages.
    public var endpoint: String { Endpoint(host: host, port: port).description }

    /// The URL without the password, safe to log.
    public var description: String {
        let vhost = virtualHost == "/" ? "" : Self.percentEncoded(virtualHost)
        let scheme = tls == nil ? "amqp" : "amqps"
        let hosts = endpoints.map(\.description).joined(separator: ",")
        return "\(scheme)://\(Self.percentEncoded(user))@\(hosts)/\(vhost)"
    }

    /// Replaces the password in a URL with `***`, for error messages.
    static func redact(_ url: String) -> String {
        guard let schemeEnd = url.range(of: "://"), let at = url[schemeEnd.upperBound...].lastIndex(of: "@") else { return url }
        let userInfo = url[schemeEnd.upperBound..<at]
        guard let colon = userInfo.firstIndex(of: ":") else { return url }
        return String(url[..<colon]) + ":***" + String(url[at...])
    }

    /// `host`, `host:port`, `[v6]` or `[v6]:port`.
    static func splitHostAndPort(_ text: Substring) throws -> (String, Substring?) {
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else {
                throw AMQPError.invalidConfiguration("unterminated IPv6 address '\(text)'")
            }
            let host = String(text[text.index(after: text.startIndex)..<close])
            let after = text[text.index(after: close)...]
            return (host, after.hasPrefix(":") ? after.dropFirst() : nil)
        }
        guard let colon = text.firstIndex(of: ":") else { return (String(text), nil) }
        return (String(text[..<colon]), text[text.index(after: colon)...])
    }

    static func percentDecoded(_ text: Substring, what: String) throws -> String {
        guard text.contains("%") else { return String(text) }
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                throw AMQPError.invalidConfiguration("bad percent-encoding in the \(what) of the URL")
            }
            bytes.append(high << 4 | low)
        }
        guard let decoded = String(validating: bytes, as: UTF8.self) else {
            throw AMQPError.invalidConfiguration("the \(what) of the URL is not valid UTF-8")
        }
        return decoded
    }

    static func percentEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF")
                out.append("%")
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0xF)])
            }
        }
        return out
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
