import Foundation

/// An e-mail as RFC 5322 and MIME (RFC 2045–2047) want it: UTF-8 display names and subject as
/// encoded words, a text and an HTML alternative, and optional attachments (the itinerary's
/// iCalendar file) and inline images the HTML shows by `cid:` (the passes' QR codes), every
/// part base64 so that Vietnamese and Chinese text survives any relay.
public struct MIMEMessage: Sendable, Equatable {
    public struct Address: Sendable, Equatable {
        public var name: String?
        public var email: String

        public init(name: String? = nil, email: String) {
            self.name = name
            self.email = email
        }

        /// `Name <email>` (or the bare address), folded so no line passes 78 octets. The name is
        /// one mailbox's display name whatever it holds: as it is when it is printable ASCII
        /// without RFC 5322 specials; a quoted-string (`\` and `"` escaped) when it has specials
        /// (`Nguyen, Van A` would be two mailboxes, `Boss <ceo@x.cn>` another address), either
        /// folded at its spaces; else (not ASCII, controls, a word too long for a line) RFC 2047
        /// encoded words.
        func header(_ field: String) -> String {
            guard let name, !name.trimmingCharacters(in: .whitespaces).isEmpty else { return "\(field): <\(email)>" }
            let prefix = field.utf8.count + 2
            let printable = name.unicodeScalars.allSatisfy { (0x20...0x7E).contains($0.value) }
            let specials = name.unicodeScalars.contains { "()<>[]:;@\\,.\"".unicodeScalars.contains($0) }
            let quoted = "\"" + name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
            let phrase = printable ? MIMEMessage.folded(specials ? quoted : name, prefix: prefix) : nil
            let display = phrase ?? MIMEMessage.encodedWords(name, prefix: prefix, always: true)
            let line = "\(field): \(display) <\(email)>"
            let last = line.components(separatedBy: "\r\n").last ?? line
            return last.utf8.count <= 78 ? line : "\(field): \(display)\r\n <\(email)>"
        }
    }

    public struct Attachment: Sendable, Equatable {
        public var filename: String
        /// e.g. `text/calendar; charset=UTF-8; method=PUBLISH`
        public var contentType: String
        public var data: Data

        public init(filename: String, contentType: String, data: Data) {
            self.filename = filename
            self.contentType = contentType
            self.data = data
        }
    }

    /// An image the HTML part shows as `cid:<contentID>`, sent with it in a multipart/related.
    public struct Inline: Sendable, Equatable {
        public var contentID: String
        public var filename: String
        public var contentType: String
        public var data: Data

        public init(contentID: String, filename: String, contentType: String = "image/png", data: Data) {
            self.contentID = contentID
            self.filename = filename
            self.contentType = contentType
            self.data = data
        }
    }

    public var from: Address
    public var to: Address
    public var subject: String
    public var text: String
    public var html: String
    public var attachments: [Attachment]
    public var inline: [Inline]
    /// Stable per notification: a resent message has the same id, so clients can drop it.
    public var messageID: String
    public var date: Date
    public var headers: [(String, String)]

    public init(
        from: Address, to: Address, subject: String, text: String, html: String, attachments: [Attachment] = [],
        inline: [Inline] = [], messageID: String, date: Date, headers: [(String, String)] = []
    ) {
        self.from = from
        self.to = to
        self.subject = subject
        self.text = text
        self.html = html
        self.attachments = attachments
        self.inline = inline
        self.messageID = messageID
        self.date = date
        self.headers = headers
    }

    public static func == (a: MIMEMessage, b: MIMEMessage) -> Bool {
        a.from == b.from && a.to == b.to && a.subject == b.subject && a.text == b.text && a.html == b.html && a.attachments == b.attachments
            && a.inline == b.inline && a.messageID == b.messageID && a.date == b.date
            && a.headers.map { "\($0.0):\($0.1)" } == b.headers.map { "\($0.0):\($0.1)" }
    }

    /// The message in wire format (CRLF line ends). `boundary` is derived from the message id,
    /// so the same message renders the same bytes.
    public func rendered() -> Data {
        let seed = String(
            UInt64(bitPattern: Int64(truncatingIfNeeded: messageID.utf8.reduce(5381) { ($0 << 5) &+ $0 &+ Int($1) })), radix: 36)
        let mixed = "=_mixed_\(seed)", related = "=_rel_\(seed)", alternative = "=_alt_\(seed)"
        var lines: [String] = [
            "Message-ID: <\(messageID)>",
            "Date: \(Self.rfc5322Date(date))",
            from.header("From"),
            to.header("To"),
            "Subject: \(Self.encodedWords(subject, prefix: 9))",
            "MIME-Version: 1.0",
        ]
        lines += headers.map { "\($0.0): \($0.1)" }
        lines += ["Content-Type: multipart/mixed; boundary=\"\(mixed)\"", "", "This is a multi-part message in MIME format.", ""]
        // With inline images: mixed > related > (alternative > text, html), images; else mixed > alternative.
        let body = inline.isEmpty ? mixed : related
        if !inline.isEmpty { lines += ["--\(mixed)", "Content-Type: multipart/related; boundary=\"\(related)\"", ""] }
        lines += ["--\(body)", "Content-Type: multipart/alternative; boundary=\"\(alternative)\"", ""]
        lines += part(contentType: "text/plain; charset=UTF-8", data: Data(text.utf8), boundary: alternative)
        lines += part(contentType: "text/html; charset=UTF-8", data: Data(html.utf8), boundary: alternative)
        lines += ["--\(alternative)--", ""]
        for image in inline {
            lines += part(
                contentType: "\(image.contentType); name=\"\(image.filename)\"", data: image.data, boundary: related,
                extra: ["Content-ID: <\(image.contentID)>", "Content-Disposition: inline; filename=\"\(image.filename)\""])
        }
        if !inline.isEmpty { lines += ["--\(related)--", ""] }
        for attachment in attachments {
            lines += part(
                contentType: "\(attachment.contentType); name=\"\(attachment.filename)\"", data: attachment.data, boundary: mixed,
                extra: ["Content-Disposition: attachment; filename=\"\(attachment.filename)\""])
        }
        lines += ["--\(mixed)--", ""]
        return Data(lines.joined(separator: "\r\n").utf8)
    }

    private func part(contentType: String, data: Data, boundary: String, extra: [String] = []) -> [String] {
        ["--\(boundary)", "Content-Type: \(contentType)", "Content-Transfer-Encoding: base64"] + extra + [""] + Self.base64Lines(data) + [
            ""
        ]
    }

    static func base64Lines(_ data: Data) -> [String] {
        let text = Array(data.base64EncodedData())
        return stride(from: 0, to: text.count, by: 76).map { start in
            String(decoding: text[start..<min(start + 76, text.count)], as: UTF8.self)
        }
    }

    /// `text` folded before spaces so that no line passes 78 octets, the first having `prefix`
    /// octets before it; nil when a word is too long for a line.
    static func folded(_ text: String, prefix: Int) -> String? {
        var lines: [String] = []
        var line = ""
        var room = 78 - prefix
        for (index, word) in text.split(separator: " ", omittingEmptySubsequences: false).enumerated() {
            let piece = index == 0 ? String(word) : " " + word
            if index > 0, line.utf8.count + piece.utf8.count > room {
                lines.append(line)
                line = ""
                room = 78
            }
            line += piece
            if line.utf8.count > room { return nil }
        }
        return (lines + [line]).joined(separator: "\r\n")
    }

    /// RFC 2047 B-encoded words, split between characters, joined with folding white space, so
    /// that no line passes 78 octets; `prefix` is how much of the first line the field name
    /// takes (printable ASCII that fits stays as it is, unless `always`).
    static func encodedWords(_ text: String, prefix: Int = 0, always: Bool = false) -> String {
        if !always && text.unicodeScalars.allSatisfy({ (0x20...0x7E).contains($0.value) }) && text.utf8.count + prefix <= 78 { return text }
        var words: [String] = []
        var chunk = ""
        // A word is "=?UTF-8?B?" + base64 + "?=": 12 octets around 4 base64 characters per 3 bytes.
        // Continuation lines start with a space: 78 − 1 − 12 = 65 → 48 bytes; the first line has
        // the field name before it.
        var limit = max(3, (78 - prefix - 12) / 4 * 3)
        for character in text {
            if (chunk + String(character)).utf8.count > limit {
                limit = 48
                words.append("=?UTF-8?B?\(Data(chunk.utf8).base64EncodedString())?=")
                chunk = ""
            }
            chunk.append(character)
        }
        if !chunk.isEmpty { words.append("=?UTF-8?B?\(Data(chunk.utf8).base64EncodedString())?=") }
        return words.joined(separator: "\r\n ")
    }

    /// `Tue, 13 Jan 2026 06:30:00 +0000` (RFC 5322 §3.3, in UTC; English names whatever the
    /// locale).
    static func rfc5322Date(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 0) ?? calendar.timeZone
        let c = calendar.dateComponents([.weekday, .day, .month, .year, .hour, .minute, .second], from: date)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ n: Int?) -> String {
            let n = n ?? 0
            return n < 10 ? "0\(n)" : "\(n)"
        }
        let weekday = days[((c.weekday ?? 1) - 1) % 7]
        let month = months[((c.month ?? 1) - 1) % 12]
        return "\(weekday), \(two(c.day)) \(month) \(c.year ?? 1970) \(two(c.hour)):\(two(c.minute)):\(two(c.second)) +0000"
    }
}
