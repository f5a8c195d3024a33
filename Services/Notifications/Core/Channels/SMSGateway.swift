import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Where SMS go: an account of Twilio's Programmable Messaging API (or anything that speaks its
/// "create a Message" call, e.g. a test's fake).
public struct SMSGatewayConfiguration: Sendable {
    /// `https://api.twilio.com` in production.
    public var baseURL: URL
    public var accountSID: String
    public var authToken: String
    /// The sender: a number of the account (E.164) or an alphanumeric sender id; or
    public var from: String?
    /// a Messaging Service (`MG…`) that picks the sender itself.
    public var messagingServiceSID: String?
    public var timeout: Double

    public init(
        baseURL: URL, accountSID: String, authToken: String, from: String? = nil, messagingServiceSID: String? = nil,
        timeout: Double = 10
    ) {
        self.baseURL = baseURL
        self.accountSID = accountSID
        self.authToken = authToken
        self.from = from
        self.messagingServiceSID = messagingServiceSID
        self.timeout = timeout
    }
}

/// Sends one SMS through Twilio's Messages API: `POST /2010-04-01/Accounts/{sid}/Messages.json`
/// (form fields `To`, `From` or `MessagingServiceSid`, `Body`; HTTP Basic with the account's sid
/// and token), answered 201 with the message resource, or with `{code, message, more_info,
/// status}`. What is worth trying again is transient (429 and code 20429: too many requests;
/// 5xx; no answer); a number that cannot get SMS (21211 invalid, 21408 region not enabled, 21610
/// the recipient opted out, 21614 not a mobile, …) is permanent for this notification: the next
/// channel of the recipient's is tried. Credentials refused (401, 20003) are the account's, not the
/// message's: `channelRefused`, tried again later. A 2xx is a message taken, even when its body
/// cannot be read: it is never sent again.
public struct SMSGateway: Sendable {
    public let configuration: SMSGatewayConfiguration

    public init(configuration: SMSGatewayConfiguration) { self.configuration = configuration }

    /// What the gateway answered for a message it took: its id and status, nil when the answer
    /// (a 2xx) could not be read.
    public struct Accepted: Sendable, Equatable {
        public var sid: String?
        public var status: String?
    }

    public func send(to number: String, body: String) async throws(DeliveryError) -> Accepted {
        guard let to = PhoneNumber.e164(number) else { throw .permanent("not a phone number in international form") }
        var fields = [("To", to), ("Body", body)]
        if let service = configuration.messagingServiceSID {
            fields.append(("MessagingServiceSid", service))
        } else if let from = configuration.from {
            fields.append(("From", from))
        }
        let url = configuration.baseURL.appendingPathComponent("2010-04-01/Accounts/\(configuration.accountSID)/Messages.json")
        var request = URLRequest(url: url, timeoutInterval: configuration.timeout)
        request.httpMethod = "POST"
        request.setValue("application/x-www-form-urlencoded; charset=utf-8", forHTTPHeaderField: "Content-Type")
        let credentials = Data("\(configuration.accountSID):\(configuration.authToken)".utf8).base64EncodedString()
        request.setValue("Basic \(credentials)", forHTTPHeaderField: "Authorization")
        request.httpBody = Data(fields.map { "\($0)=\(Self.formEncoded($1))" }.joined(separator: "&").utf8)
        let (status, body) = try await ProviderHTTP.exchange(request, provider: "SMS gateway")
        return try Self.outcome(status: status, body: body)
    }

    /// The gateway's answer, sorted: the message taken, or why not and whether to try again.
    static func outcome(status: Int, body: Data) throws(DeliveryError) -> Accepted {
        struct Message: Decodable {
            var sid: String
            var status: String
        }
        struct Failure: Decodable {
            var code: Int?
            var message: String?
        }
        if (200..<300).contains(status) {
            // Taken, whatever the body says: sending it again would send it twice.
            let message = try? JSONDecoder().decode(Message.self, from: body)
            return Accepted(sid: message?.sid, status: message?.status)
        }
        let failure = try? JSONDecoder().decode(Failure.self, from: body)
        // (the gateway's text may quote the number: only the code and the HTTP status are kept)
        let reason =
            "SMS gateway answered \(status)" + (failure?.code.map { " (error \($0)\(Self.meaning[$0].map { ": \($0)" } ?? ""))" } ?? "")
        if status == 429 || failure?.code == 20429 || status >= 500 || status == 408 { throw .transient(reason) }
        if status == 401 || failure?.code == 20003 { throw .channelRefused(reason) }
        throw .permanent(reason)
    }

    /// What the codes a send most often meets mean (Twilio's error dictionary).
    static let meaning: [Int: String] = [
        20003: "credentials refused", 20429: "too many requests", 21211: "invalid number", 21408: "region not enabled for the account",
        21610: "the recipient opted out (STOP)", 21612: "cannot route to this number", 21614: "not a mobile number",
        21606: "the sender cannot send to this number", 21608: "number not verified (trial account)",
    ]

    /// `application/x-www-form-urlencoded`: UTF-8, everything but unreserved characters escaped.
    static func formEncoded(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics.intersection(CharacterSet(charactersIn: Unicode.Scalar(0)..<Unicode.Scalar(128)))
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }
}

/// Phone numbers as registrations give them ("+86 755 1234 5678", "+84-905-123-456").
public enum PhoneNumber {
    /// E.164 (`+` and 8 to 15 digits), or nil: spaces, dashes, dots and brackets dropped; a
    /// number without its country code is not guessed at.
    public static func e164(_ text: String) -> String? {
        let kept = text.filter { !" -.()\u{00A0}".contains($0) }
        guard kept.hasPrefix("+"), case let digits = kept.dropFirst(), (8...15).contains(digits.count),
            digits.allSatisfy({ $0.isASCII && $0.isNumber }), digits.first != "0"
        else { return nil }
        return kept
    }
}
