import Testing

@testable import AMQP

@Suite struct ConfigurationTests {
    @Test func parsesAFullURL() throws {
        let c = try AMQPConfiguration(
            url: "amqp://alice:s%40cret@broker.example:5680/delegation%2Fprod?heartbeat=5&connection_timeout=2500")
        #expect(c.host == "broker.example")
        #expect(c.port == 5680)
        #expect(c.user == "alice")
        #expect(c.password == "s@cret")
        #expect(c.virtualHost == "delegation/prod")
        #expect(c.heartbeat == 5)
        #expect(c.connectTimeout == 2.5)
        #expect(c.tls == nil)
    }

    @Test func defaultsTheVhostPortAndCredentials() throws {
        let c = try AMQPConfiguration(url: "amqp://localhost")
        #expect(c.virtualHost == "/")
        #expect(c.port == 5672)
        #expect(c.user == "guest")
        let tls = try AMQPConfiguration(url: "amqps://h/?cacertfile=/tmp/ca.pem&verify=verify_peer")
        #expect(tls.port == 5671)
        #expect(tls.tls?.caCertificateFile == "/tmp/ca.pem")
        #expect(tls.tls?.verifyPeer == true)
    }

    @Test func parsesIPv6Hosts() throws {
        let c = try AMQPConfiguration(url: "amqp://u:p@[::1]:5673/")
        #expect(c.host == "::1")
        #expect(c.port == 5673)
        #expect(c.endpoint == "[::1]:5673")
    }

    @Test func parsesSeveralNodesOfACluster() throws {
        let c = try AMQPConfiguration(url: "amqp://u:p@node-a:5701,node-b,[::1]:5703/v")
        #expect(c.endpoints.map(\.description) == ["node-a:5701", "node-b:5672", "[::1]:5703"])
        #expect(c.endpoint == "node-a:5701")
        #expect(c.description == "amqp://u@node-a:5701,node-b:5672,[::1]:5703/v")
        #expect(c.at(c.failover[0]).endpoint == "node-b:5672")
        #expect(try AMQPConfiguration(url: "amqps://h1,h2/").endpoints.map(\.port) == [5671, 5671])
    }

    @Test(arguments: [
        ("http://localhost/", "unsupported URL scheme"),
        ("localhost:5672", "not an AMQP URL"),
        ("amqp://h:99999/", "port '99999'"),
        ("amqp://h1:5672,h2:x/", "port 'x'"),
        ("amqp://h/?heartbeat=-1", "heartbeat"),
        ("amqp://h/?cacertfile=/x", "needs an amqps:// URL"),
        ("amqp://h/?frobnicate=1", "unknown URL parameter 'frobnicate'"),
        ("amqp://u:%zz@h/", "bad percent-encoding"),
    ])
    func rejectsBadURLsWithAReason(url: String, reason: String) {
        #expect {
            try AMQPConfiguration(url: url)
        } throws: { error in
            "\(error)".contains(reason)
        }
    }

    @Test func neverPrintsThePassword() throws {
        let c = try AMQPConfiguration(url: "amqp://alice:topsecret@h:5672/v")
        #expect(!c.description.contains("topsecret"))
        #expect(c.description == "amqp://alice@h:5672/v")
        #expect(!AMQPConfiguration.redact("amqp://alice:topsecret@h/").contains("topsecret"))
    }

    @Test func backoffGrowsAndStaysWithinTheCap() {
        let recovery = AMQPConfiguration.Recovery(initialDelay: 0.1, maxDelay: 2)
        for attempt in 1...20 {
            let ceiling = min(2, 0.1 * Double(1 << min(attempt - 1, 30)))
            let delay = recovery.delay(forAttempt: attempt)
            #expect(delay >= ceiling / 2 && delay <= ceiling)
        }
    }
}
