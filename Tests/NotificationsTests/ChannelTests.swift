import Foundation
import TestSupport
import Testing

@testable import NotificationsCore

/// The channels against real servers: aiosmtpd and a Python HTTP server.
@Suite struct ChannelTests {
    static let calendar = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nEND:VCALENDAR\r\n"

    static func message(to: String = "li.wei@example.cn") -> MIMEMessage {
        MIMEMessage(
            from: .init(name: "Trung tâm Khởi nghiệp Đà Nẵng", email: "noreply@delegation.example"),
            to: .init(name: "李伟 (Lǐ Wěi)", email: to),
            subject: "Lịch trình của quý vị – 您的行程已确认 – Da Nang, 13–14 January 2026 "
                + "(a long subject that must be folded)",
            text: "Kính gửi 李伟,\n.\nA line that starts with a dot.\n", html: "<p>Kính gửi <b>李伟</b></p>",
            attachments: [
                .init(filename: "itinerary.ics", contentType: "text/calendar; charset=UTF-8; method=PUBLISH", data: Data(calendar.utf8))
            ],
            messageID: "n-123@notifications.delegation", date: Date(timeIntervalSince1970: 1_767_319_200))
    }

    @Test(arguments: [
        ("a\r\n.b\r\n..c", "a\r\n..b\r\n...c\r\n"),
        (".first\nbare lf\n", "..first\r\nbare lf\r\n"),
        ("no dot. here.\r\n", "no dot. here.\r\n"),
    ])
    func dataLinesStartingWithADotAreStuffed(input: String, expected: String) {
        #expect(SMTPClient.dotStuffed(Data(input.utf8)) == expected)
    }

    @Test func theDateHeaderIsRFC5322InUTC() {
        #expect(MIMEMessage.rfc5322Date(Date(timeIntervalSince1970: 1_768_285_800)) == "Tue, 13 Jan 2026 06:30:00 +0000")
        #expect(MIMEMessage.rfc5322Date(Date(timeIntervalSince1970: 0)) == "Thu, 01 Jan 1970 00:00:00 +0000")
    }

    @Test func anEmailArrivesWithItsUTF8HeadersPartsAndCalendar() async throws {
        let server = try await SMTPTestServer()
        defer { server.stop() }
        let client = SMTPClient(configuration: SMTPConfiguration(port: server.port))
        try await client.send(Self.message().rendered(), from: "noreply@delegation.example", to: "li.wei@example.cn")
        let received = try #require(server.messages.first)
        // Byte by byte where it matters: every header line is 7-bit, CRLF, at most 998 octets.
        let head = String(decoding: received.prefix { $0 != 0 }, as: UTF8.self).components(separatedBy: "\r\n\r\n")[0]
        #expect(head.utf8.allSatisfy { $0 < 0x80 }, "headers are ASCII (RFC 2047 encoded words)")
        #expect(head.components(separatedBy: "\r\n").allSatisfy { $0.utf8.count <= 78 })
        #expect(head.contains("Message-ID: <n-123@notifications.delegation>"))
        let mail = try await inspectEmail(received)
        #expect(mail["subject"] == Self.message().subject)
        #expect(mail["to"] == "\"李伟 (Lǐ Wěi)\" <li.wei@example.cn>", "parentheses are specials: the decoded name is quoted")
        #expect(mail["from"] == "Trung tâm Khởi nghiệp Đà Nẵng <noreply@delegation.example>")
        #expect(mail["text/plain"]?.replacingOccurrences(of: "\r\n", with: "\n") == Self.message().text, "dot-stuffing undone, text intact")
        #expect(mail["text/html"]?.contains("<b>李伟</b>") == true)
        #expect(mail["attachment"] == "itinerary.ics")
        #expect(mail["attachment-type"] == "text/calendar")
        #expect(mail["attachment-body"] == Self.calendar)
    }

    /// Messages share a connection, reset between them; a connection the relay closed is
    /// replaced before anything is sent; one that failed a transaction is never reused. With a
    /// relay that pipelines (the reset and the commands in one write) and one that does not.
    @Test(arguments: [true, false])
    func pooledMessagesShareAConnectionAndABrokenOneIsReplaced(pipelining: Bool) async throws {
        let server = try await SMTPTestServer(reject: ["nobody"], pipelining: pipelining)
        let pool = SMTPPool(configuration: SMTPConfiguration(port: server.port, timeout: 5), maxIdle: 2)
        func send(_ to: String) async throws {
            try await pool.send(Self.message(to: to).rendered(), from: "noreply@delegation.example", to: to)
        }
        let probe = try await pool.client.open()
        #expect(probe.pipelining == pipelining, "PIPELINING is used exactly when offered")
        probe.close()
        for index in 1...3 { try await send("a\(index)@example.cn") }
        #expect(server.messages.count == 3)
        #expect(Set(server.clientPorts).count == 1, "one connection for the three: \(server.clientPorts)")
        #expect(pool.idleCount == 1)

        await #expect(throws: DeliveryError.self) { try await send("nobody@example.cn") }
        #expect(pool.idleCount == 0, "the connection that failed is closed")
        try await send("a4@example.cn")
        #expect(Set(server.clientPorts).count == 2)

        // Six at once: no more connections than senders, no more kept than maxIdle.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 5...10 { group.addTask { try await send("a\(index)@example.cn") } }
            try await group.waitForAll()
        }
        #expect(server.messages.count == 10 && pool.idleCount == 2)

        // The relay restarts (its sessions gone): the next message goes on a new connection.
        let port = server.port
        await server.stopAndWait()
        let restarted = try await SMTPTestServer(port: port, pipelining: pipelining)
        defer { restarted.stop() }
        try await send("a11@example.cn")
        #expect(restarted.messages.count == 1)
    }

    @Test func starttlsAndAuthAreUsedWhenConfigured() async throws {
        let cert = "\(TestBroker.root)/.run/broker/tls/server.pem", key = "\(TestBroker.root)/.run/broker/tls/server.key"
        let server = try await SMTPTestServer(starttls: (cert, key), auth: "notifier:s3cret")
        defer { server.stop() }
        var configuration = SMTPConfiguration(
            host: "localhost", port: server.port, security: .startTLS, username: "notifier", password: "s3cret", caFile: TestBroker.caFile)
        try await SMTPClient(configuration: configuration).send(
            Self.message().rendered(), from: "noreply@delegation.example", to: "li.wei@example.cn")
        #expect(server.messages.count == 1)
        let envelope = try #require(
            try FileManager.default.contentsOfDirectory(atPath: server.directory.path).first { $0.hasSuffix(".json") })
        #expect(
            String(
                decoding: FileManager.default.contents(atPath: server.directory.appendingPathComponent(envelope).path) ?? Data(),
                as: UTF8.self
            ).contains("\"tls\": true"))
        // A wrong password (535) is the channel's, not the message's: refused, to try again.
        configuration.password = "wrong"
        do {
            try await SMTPClient(configuration: configuration).send(
                Self.message().rendered(), from: "noreply@delegation.example", to: "li.wei@example.cn")
            Issue.record("a wrong password is refused")
        } catch {
            guard case .channelRefused(let reason) = error else { throw error }
            #expect(reason.hasPrefix("AUTH → 535") && !reason.contains("wrong"), "\(reason)")
        }
    }

    /// What the relay refuses before a recipient is named (this server at the greeting, the
    /// credentials, the sender) refuses the channel; a refused recipient or message is that
    /// message's; 4xx is worth another try. The error names the command, never what it carried.
    @Test func aRelayRefusingTheChannelIsToldApartFromOneRefusingTheMessage() {
        func failure(_ code: Int, _ line: String?) -> DeliveryError? {
            do {
                try SMTPConnection.check(SMTPReply(code: code, lines: ["no"]), to: line, expect: 250...250)
                return nil
            } catch {
                return error as? DeliveryError
            }
        }
        #expect(failure(554, nil) == .channelRefused("greeting → 554 no"))
        #expect(failure(535, "AUTH PLAIN AG5vdGlmaWVyAHMzY3JldA==") == .channelRefused("AUTH → 535 no"))
        #expect(failure(550, "MAIL FROM:<noreply@delegation.example> SMTPUTF8") == .channelRefused("MAIL FROM → 550 no"))
        #expect(failure(550, "EHLO delegation-notifications") == .channelRefused("EHLO → 550 no"))
        #expect(failure(550, "RCPT TO:<li.wei@example.cn>") == .permanent("RCPT TO → 550 no"))
        #expect(failure(554, "DATA") == .permanent("DATA → 554 no"))
        #expect(
            failure(552, "Message-ID: <n-1@notifications.delegation>\r\nTo: li.wei@example.cn\r\n.") == .permanent("the message → 552 no"))
        #expect(failure(451, "RCPT TO:<li.wei@example.cn>") == .transient("RCPT TO → 451 no"))
        #expect(failure(250, "RCPT TO:<li.wei@example.cn>") == nil)
    }

    /// Each name as the display name of `From` and `To`, read by Python's `email` package: each
    /// field one mailbox with that name, whatever the name holds; every header line ASCII and at
    /// most 78 octets.
    @Test func aDisplayNameIsOneMailboxWhateverItHolds() async throws {
        let names = [
            "Nguyen, Van A", "Boss <ceo@x.cn>", #"Li "Wei" \ Co."#, "Dr. Tran (CTO); Da Nang", "Lê Văn, A <x@y.vn>",
            "Shenzhen Logistics, Hangzhou Smart Port and Da Nang Software Park delegation, group 2",
        ]
        let folder = try TemporaryFolder("mime")
        defer { withExtendedLifetime(folder) {} }
        var files: [String] = []
        for (index, name) in names.enumerated() {
            let raw = MIMEMessage(
                from: .init(name: name, email: "noreply@delegation.example"), to: .init(name: name, email: "a@b.vn"), subject: "s",
                text: "t", html: "<p>t</p>", messageID: "n-\(index)@notifications.delegation", date: Date(timeIntervalSince1970: 0)
            ).rendered()
            let head = String(decoding: raw, as: UTF8.self).components(separatedBy: "\r\n\r\n")[0]
            #expect(head.components(separatedBy: "\r\n").allSatisfy { $0.utf8.count <= 78 && $0.utf8.allSatisfy { $0 < 0x80 } }, "\(head)")
            files.append(folder.path("\(index).eml"))
            try raw.write(to: URL(fileURLWithPath: files[index]))
        }
        let script = """
            import email, json, sys
            from email import policy
            out = []
            for path in sys.argv[1:]:
                m = email.message_from_bytes(open(path, 'rb').read(), policy=policy.default)
                out.append({f: [[a.display_name, a.addr_spec] for a in m[f].addresses] for f in ('from', 'to')})
            print(json.dumps(out, ensure_ascii=False))
            """
        let output = try await TestBroker.run("/usr/bin/python3", ["-c", script] + files)
        let parsed = try JSONDecoder().decode([[String: [[String]]]].self, from: Data(output.utf8))
        #expect(parsed.count == names.count)
        for (name, mailboxes) in zip(names, parsed) {
            #expect(mailboxes["to"] == [[name, "a@b.vn"]], "\(name)")
            #expect(mailboxes["from"] == [[name, "noreply@delegation.example"]], "\(name)")
        }
    }

    @Test func aNameWithSpecialsIsAQuotedStringAndAPlainOneStaysAsItIs() {
        #expect(MIMEMessage.Address(name: "Nguyen, Van A", email: "a@b.vn").header("To") == #"To: "Nguyen, Van A" <a@b.vn>"#)
        #expect(MIMEMessage.Address(name: #"Li "Wei" \ Co"#, email: "a@b.vn").header("To") == #"To: "Li \"Wei\" \\ Co" <a@b.vn>"#)
        #expect(MIMEMessage.Address(name: "Boss <ceo@x.cn>", email: "a@b.vn").header("To") == #"To: "Boss <ceo@x.cn>" <a@b.vn>"#)
        #expect(MIMEMessage.Address(name: "Tran Van An", email: "a@b.vn").header("To") == "To: Tran Van An <a@b.vn>")
        #expect(MIMEMessage.Address(name: "Li\r\nBcc: x@y.cn", email: "a@b.vn").header("To").hasPrefix("To: =?UTF-8?B?"))
    }

    @Test func a4xxIsTransientAnd5xxPermanentAndNothingListeningTransient() async throws {
        let server = try await SMTPTestServer(transient: 1, reject: ["unknown"])
        defer { server.stop() }
        let client = SMTPClient(configuration: SMTPConfiguration(port: server.port))
        await #expect(throws: DeliveryError.self) {
            try await client.send(Self.message().rendered(), from: "a@b.example", to: "li.wei@example.cn")
        }
        do {
            try await client.send(Self.message().rendered(), from: "a@b.example", to: "li.wei@example.cn")
        } catch {
            Issue.record("the second attempt should succeed: \(error)")
        }
        do {
            try await client.send(Self.message(to: "unknown@example.cn").rendered(), from: "a@b.example", to: "unknown@example.cn")
            Issue.record("a rejected mailbox must fail")
        } catch {
            #expect(error.isPermanent)
            #expect("\(error)".contains("550"))
        }
        do {
            try await SMTPClient(configuration: SMTPConfiguration(port: 1, timeout: 2)).send(Data(), from: "a@b.example", to: "c@d.example")
            Issue.record("nothing listens on port 1")
        } catch {
            #expect(!error.isPermanent)
        }
        #expect(server.messages.count == 1)
    }

    /// Checks a recorded call with the Standard Webhooks library from PyPI (`standardwebhooks`,
    /// in the test's Python environment), as a receiver would: nil when it verifies, else why not.
    static func verifiedByTheLibrary(_ call: WebhookTestServer.Call, secret: String, body: String? = nil) async throws -> String? {
        let script = """
            import json, sys
            from standardwebhooks.webhooks import Webhook
            call = json.load(open(sys.argv[1]))
            try:
                Webhook(sys.argv[2]).verify(sys.argv[3] if len(sys.argv) > 3 else call["body"], call["headers"])
                print("verified")
            except Exception as error:
                print("refused: %s" % error)
            """
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("call-\(UUID().uuidString.prefix(8)).json")
        struct Recorded: Encodable {
            var headers: [String: String]
            var body: String
        }
        try JSONEncoder().encode(Recorded(headers: call.headers, body: call.body)).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let output = try await TestBroker.run(
            "\(TestBroker.root)/.run/python/bin/python", ["-c", script, file.path, secret] + (body.map { [$0] } ?? []))
        let answer = output.trimmingCharacters(in: .whitespacesAndNewlines)
        return answer == "verified" ? nil : answer
    }

    @Test func aWebhookIsSignedTheStandardWebhooksWayAndItsStatusSorted() async throws {
        let server = try await WebhookTestServer(statuses: [200, 503, 404, 429, 200])
        defer { server.stop() }
        let secret = "whsec_" + Data((0..<32).map { UInt8($0 * 7 % 256) }).base64EncodedString()
        let client = WebhookClient(configuration: WebhookConfiguration(url: server.url, secret: secret))
        let body = Data("{\"text\":\"Xin chào 你好\"}".utf8)
        try await client.post(body, idempotencyKey: "key-1")
        for expected in [false, true, false] {
            do {
                try await client.post(body, idempotencyKey: "key-1")
                Issue.record("should fail")
            } catch {
                #expect(error.isPermanent == expected)
            }
        }
        let first = try #require(server.calls.first)
        let headers = Dictionary(uniqueKeysWithValues: first.headers.map { ($0.key.lowercased(), $0.value) })
        #expect(headers["webhook-id"] == "key-1", "the same id on every retry: receivers drop copies by it")
        #expect(headers["webhook-signature"]?.hasPrefix("v1,") == true)
        #expect(first.body == "{\"text\":\"Xin chào 你好\"}")
        // The published library verifies it, and refuses it altered, or under another secret.
        #expect(try await Self.verifiedByTheLibrary(first, secret: secret) == nil)
        #expect(try await Self.verifiedByTheLibrary(first, secret: secret, body: "{\"text\":\"Xin chào\"}") != nil)
        let other = "whsec_" + Data(repeating: 1, count: 32).base64EncodedString()
        #expect(try await Self.verifiedByTheLibrary(first, secret: other) != nil)
        // A plain-text secret signs with its bytes: the receiver verifies with whsec_ + base64 of it.
        let plain = WebhookClient(configuration: WebhookConfiguration(url: server.url, secret: "hook-secret"))
        try await plain.post(body, idempotencyKey: "key-2")
        let second = try #require(server.calls.first { $0.headers.contains { $0.key.lowercased() == "webhook-id" && $0.value == "key-2" } })
        #expect(try await Self.verifiedByTheLibrary(second, secret: "whsec_" + Data("hook-secret".utf8).base64EncodedString()) == nil)
        #expect(WebhookConfiguration.key("whsec_c2hvcnQ=") == nil, "a whsec_ key of 5 bytes is refused")
    }

    @Test func aWhsecSecretThatIsNotBase64OfEnoughBytesIsRefusedAtStart() throws {
        let url = "http://127.0.0.1:9/hook"
        #expect {
            try NotificationsConfiguration.fromEnvironment([
                "NOTIFICATIONS_WEBHOOK_URL": url, "NOTIFICATIONS_WEBHOOK_SECRET": "whsec_c2hvcnQ=",
            ])
        } throws: { error in
            "\(error)".contains("NOTIFICATIONS_WEBHOOK_SECRET: a whsec_ secret is whsec_ + base64 of 24 to 64 bytes")
        }
        let secret = "whsec_" + Data(repeating: 3, count: 32).base64EncodedString()
        let configuration = try NotificationsConfiguration.fromEnvironment([
            "NOTIFICATIONS_WEBHOOK_URL": url, "NOTIFICATIONS_WEBHOOK_SECRET": secret,
        ])
        #expect((configuration.channels[.webhook] as? WebhookChannel)?.configuration.secret == secret)
    }
}
