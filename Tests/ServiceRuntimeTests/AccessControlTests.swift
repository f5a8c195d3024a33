import AMQP
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import TestSupport
import Testing

@testable import ServiceRuntime

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The HTTP side's access control, over real HTTP: API tokens with scopes, refusals as JSON and
/// counted, the audit of personal-data reads, start-up refused beyond loopback, and HTTPS.
@Suite struct AccessControlTests {
    /// A service's HTTP side on an ephemeral port with one route per scope, run for `body`.
    static func withServer(
        tls: HTTPTLS? = nil, logger: Logger = Logger(label: "test"),
        _ body: (_ port: Int, _ store: ServiceStore, _ metrics: ServiceMetrics) async throws -> Void
    ) async throws {
        let folder = try TemporaryFolder("access")
        defer { withExtendedLifetime(folder) {} }
        let store = try ServiceStore(path: folder.path("store.sqlite"), synchronous: .normal, migrations: { _ in })
        let metrics = ServiceMetrics(service: "test")
        var configuration = ServiceConfiguration(serviceName: "test", amqp: AMQPConfiguration(), storePath: store.path)
        configuration.httpTLS = tls
        let (ports, listening) = AsyncStream.makeStream(of: Int.self)
        let app = try ServiceHTTP.application(
            configuration: configuration, readiness: .init(connections: [], store: store), store: store, metrics: metrics,
            logger: logger,
            routes: { routes in
                routes.read.get("/things") { _, _ in try ServiceHTTP.json(["things": "2 buses"]) }
                routes.personalData.get("/people/:email") { _, _ in try ServiceHTTP.json(["email": "someone@example.org"]) }
                routes.admin.get("/admin") { _, _ in try ServiceHTTP.json(["admin": "yes"]) }
            },
            onListening: { port in listening.yield(port) })
        let group = ServiceGroup(services: [app], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            do {
                try await body(port, store, metrics)
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    static func get(_ port: Int, _ path: String, token: String? = nil) async throws -> (
        status: Int, body: String, headers: [String: String]
    ) {
        var request = URLRequest(url: try #require(URL(string: "http://127.0.0.1:\(port)\(path)")))
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = try #require(response as? HTTPURLResponse)
        let headers = Dictionary(
            http.allHeaderFields.compactMap { key, value in (key as? String).map { ($0.lowercased(), "\(value)") } },
            uniquingKeysWith: { first, _ in first })
        return (http.statusCode, String(decoding: data, as: UTF8.self), headers)
    }

    static func create(_ store: ServiceStore, _ name: String, _ scope: AccessScope) async throws -> (id: String, secret: String) {
        let (token, secret) = APIToken.make(name: name, scope: scope)
        try await store.database.write { db in try APITokens.insert(token, in: db) }
        return (token.id, secret)
    }

    @Test func withoutAnyTokenOnLoopbackEveryEndpointAnswers() async throws {
        try await Self.withServer { port, _, _ async throws in
            for path in ["/things", "/people/a@example.org", "/admin", "/metrics", "/health/live"] {
                #expect(try await Self.get(port, path).status == 200, "\(path)")
            }
        }
    }

    @Test func revokingTheLastTokenLeavesTheDoorsShutNotOpen() async throws {
        try await Self.withServer { port, store, _ async throws in
            let only = try await Self.create(store, "leaked laptop", .admin)
            #expect(try await Self.get(port, "/things", token: only.secret).status == 200)
            #expect(try await store.database.write { db in try APITokens.revoke(id: only.id, in: db) })
            for path in ["/things", "/people/a@example.org", "/admin", "/metrics"] {
                #expect(try await Self.get(port, path).status == 401, "\(path) without a token")
                #expect(try await Self.get(port, path, token: only.secret).status == 401, "\(path) with the revoked token")
            }
            #expect(try await Self.get(port, "/health/live").status == 200)
            let fresh = try await Self.create(store, "new laptop", .read)
            #expect(try await Self.get(port, "/things", token: fresh.secret).status == 200)
        }
    }

    @Test func readinessAskedByManyAtOnceWritesTheStoreOnce() async throws {
        let folder = try TemporaryFolder("readiness")
        defer { withExtendedLifetime(folder) {} }
        let store = try ServiceStore(path: folder.path("store.sqlite"), synchronous: .normal, migrations: { _ in })
        let readiness = ServiceHTTP.Readiness(connections: [], store: store)
        let answers = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<50 { group.addTask { await readiness.check().ready } }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(answers.count == 50 && answers.allSatisfy { $0 })
        #expect(await readiness.storeProbe.taken == 1, "one probe for fifty callers within a second")
    }

    @Test func eachScopeIsAllowedWhereItReachesAndRefusedElsewhere() async throws {
        let capture = LogCapture()
        try await Self.withServer(logger: capture.logger) { port, store, metrics async throws in
            let read = try await Self.create(store, "prometheus", .read)
            let personal = try await Self.create(store, "access desk", .personalData)
            let admin = try await Self.create(store, "ops", .admin)
            let revoked = try await Self.create(store, "old laptop", .admin)
            #expect(try await store.database.write { db in try APITokens.revoke(id: revoked.id, in: db) })

            // No token: 401 with a JSON error and a Bearer challenge; health answers anyone.
            let refused = try await Self.get(port, "/things")
            #expect(refused.status == 401)
            #expect(refused.headers["www-authenticate"]?.hasPrefix("Bearer") == true)
            #expect(refused.headers["content-type"]?.hasPrefix("application/json") == true)
            let error = try JSONSerialization.jsonObject(with: Data(refused.body.utf8)) as? [String: [String: String]]
            #expect(error?["error"]?["message"]?.contains("'read' scope") == true, "\(refused.body)")
            #expect(try await Self.get(port, "/metrics").status == 401)
            #expect(try await Self.get(port, "/health/live").status == 200)
            #expect(try await Self.get(port, "/health/ready").status == 200)

            // Each scope reaches its own routes and those below, no higher: 403 above.
            let expected: [(token: String, path: String, status: Int)] = [
                (read.secret, "/things", 200), (read.secret, "/metrics", 200), (read.secret, "/people/a@example.org", 403),
                (read.secret, "/admin", 403),
                (personal.secret, "/things", 200), (personal.secret, "/people/a@example.org", 200), (personal.secret, "/admin", 403),
                (admin.secret, "/things", 200), (admin.secret, "/people/a@example.org", 200), (admin.secret, "/admin", 200),
            ]
            for (token, path, status) in expected {
                let answer = try await Self.get(port, path, token: token)
                #expect(answer.status == status, "\(path) with \(token.prefix(16))…: \(answer.body)")
                if status == 403 { #expect(answer.body.contains("lacks the"), "\(answer.body)") }
            }
            // A revoked token, a malformed one, and a known id with the wrong secret: 401.
            let wrong = "dlg_\(read.id)_" + String(repeating: "0", count: 64)
            for token in [revoked.secret, "not-a-token", wrong] {
                #expect(try await Self.get(port, "/things", token: token).status == 401, "\(token.prefix(16))")
            }

            // Refusals are counted: 2 without a token, 3 with a bad one; 3 for want of scope.
            let text = metrics.render()
            #expect(text.contains(#"http_requests_refused_total{service="test",reason="unauthorized"} 5"#), "\(text)")
            #expect(text.contains(#"http_requests_refused_total{service="test",reason="forbidden"} 3"#))
            #expect(text.contains(#"http_requests_total{service="test",status="403"} 3"#))

            // Each personal-data read is audited: which token, which route, never the values.
            let audits = capture.all.filter { $0.metadata["audit"] == "personal-data" }
            #expect(audits.count == 3, "two reads by personal-data and admin tokens and the admin page: \(audits.map(\.metadata))")
            #expect(audits.contains { $0.metadata["token.id"] == personal.id && $0.metadata["token.name"] == "access desk" })
            #expect(audits.allSatisfy { $0.metadata["http.route"] != nil })
            let logged = capture.all.map { "\($0.message) \($0.metadata)" }.joined(separator: "\n")
            #expect(!logged.contains("a@example.org"), "no personal data in the log")
            for token in [read, personal, admin] { #expect(!logged.contains(token.secret), "no secret in the log") }
        }
    }

    @Test func theStoreKeepsOnlyADigestOfEachSecret() async throws {
        try await Self.withServer { _, store, _ async throws in
            let token = try await Self.create(store, "console", .read)
            let stored = try #require(try await store.database.read { db in try APITokens.all(in: db) }.first)
            #expect(stored.id == token.id && stored.scope == .read && stored.revokedAt == nil)
            let secretPart = String(token.secret.split(separator: "_")[2])
            let file = try Data(contentsOf: URL(fileURLWithPath: store.path))
            #expect(file.range(of: Data(secretPart.utf8)) == nil, "the secret is not in the store file")
        }
    }

    /// (With only revoked tokens it starts: every endpoint then refuses, see
    /// `revokingTheLastTokenLeavesTheDoorsShutNotOpen`.)
    @Test func aServiceRefusesToListenBeyondLoopbackBeforeItsFirstToken() async throws {
        let folder = try TemporaryFolder("exposed")
        defer { withExtendedLifetime(folder) {} }
        let configuration = ServiceConfiguration(
            serviceName: "exposed", amqp: AMQPConfiguration(), storePath: folder.path("store.sqlite"),
            httpHost: "0.0.0.0")
        let host = try await ServiceHost(configuration: configuration, dispatcher: ScriptedHandler().dispatcher, logger: TestBroker.logger)
        let error = await #expect(throws: ConfigurationError.self) { try await host.run(signals: []) }
        #expect(error?.description.contains("beyond loopback, without API tokens") == true, "\(String(describing: error))")
        #expect(
            isLoopback("127.0.0.1") && isLoopback("localhost") && isLoopback("::1") && !isLoopback("0.0.0.0") && !isLoopback("10.1.2.3"))
    }

    @Test func httpsServesWithTheConfiguredCertificateToARealClient() async throws {
        let folder = try TemporaryFolder("tls")
        defer { withExtendedLifetime(folder) {} }
        let certificate = folder.path("cert.pem")
        let key = folder.path("key.pem")
        let made = try await TestBroker.runAnyway(
            "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key, "-out", certificate,
            ])
        #expect(made.status == 0, "\(made.output)")
        try await Self.withServer(tls: HTTPTLS(certificatePath: certificate, keyPath: key)) { port, _, _ async throws in
            // curl checks the chain against the certificate and the name against the URL.
            let secure = try await TestBroker.runAnyway(
                "/usr/bin/curl", ["-sS", "--cacert", certificate, "https://localhost:\(port)/things"])
            #expect(secure.status == 0 && secure.output.contains("2 buses"), "\(secure.output)")
            // Plain HTTP on the same port gets no answer, and an untrusted client refuses it.
            let plain = try await TestBroker.runAnyway("/usr/bin/curl", ["-sS", "--max-time", "5", "http://127.0.0.1:\(port)/things"])
            #expect(plain.status != 0 || !plain.output.contains("2 buses"))
            let untrusted = try await TestBroker.runAnyway("/usr/bin/curl", ["-sS", "https://localhost:\(port)/things"])
            #expect(untrusted.status != 0, "a self-signed certificate is not trusted without --cacert")
        }
        // A key that is not one stops the configuration, naming the setting.
        var reader = EnvironmentReader(["TEST_HTTP_TLS_CERTIFICATE": certificate, "TEST_HTTP_TLS_KEY": certificate])
        _ = ServiceConfiguration.read(ServiceDescription(name: "test", consumes: [], partition: .event, defaultHTTPPort: 0), from: &reader)
        #expect(reader.problems.contains { $0.hasPrefix("TEST_HTTP_TLS_CERTIFICATE / _KEY: cannot use") }, "\(reader.problems)")
    }
}
