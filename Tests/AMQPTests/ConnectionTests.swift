import AMQP
import Foundation
import TestSupport
import Testing

@Suite struct ConnectionTests {
    @Test func badCredentialsGiveAccessRefused() async throws {
        await #expect {
            _ = try await TestBroker.connect { $0.password = "wrong" }
        } throws: { error in
            guard case AMQPError.connectionClosedByBroker(.accessRefused, let text) = error else { return false }
            return text.contains("ACCESS_REFUSED") && "\(error)".contains("ACCESS_REFUSED (403)") && !"\(error)".contains("wrong")
        }
    }

    @Test func anUnknownVhostGivesNotAllowed() async throws {
        await #expect {
            _ = try await TestBroker.connect(vhost: "no-such-vhost")
        } throws: { error in
            guard case AMQPError.connectionClosedByBroker(.notAllowed, let text) = error else { return false }
            return text.contains("no-such-vhost")
        }
    }

    @Test func nothingListeningGivesConnectionFailed() async throws {
        await #expect {
            _ = try await TestBroker.connect {
                $0.port = 1
                $0.connectTimeout = 2
            }
        } throws: { error in
            guard case AMQPError.connectionFailed(let endpoint, _) = error else { return false }
            return endpoint == "127.0.0.1:1"
        }
    }

    /// A cluster's nodes in one URL: a node that does not answer is passed over, at the first
    /// connection and after a loss (the cluster test stops nodes under load).
    @Test func theFirstNodeThatAnswersIsUsed() async throws {
        let broker = try AMQPConfiguration(url: TestBroker.url)
        let log = LogCapture()
        let connection = try await TestBroker.connect(logger: log.logger) {
            $0.port = 1
            $0.failover = [
                AMQPConfiguration.Endpoint(host: "127.0.0.1", port: 2), AMQPConfiguration.Endpoint(host: broker.host, port: broker.port),
            ]
            $0.connectTimeout = 2
        }
        #expect(try await connection.queueExists("amq.nothing-\(UUID().uuidString)") == false)
        let tried = log.all.filter { $0.message == "AMQP trying the next node" }.compactMap { $0.metadata["amqp.endpoint"] }
        #expect(tried == ["127.0.0.1:2", "\(broker.host):\(broker.port)"])
        await connection.close()

        await #expect {
            _ = try await TestBroker.connect {
                $0.port = 1
                $0.failover = [AMQPConfiguration.Endpoint(host: "127.0.0.1", port: 2)]
                $0.connectTimeout = 2
            }
        } throws: { error in
            guard case AMQPError.connectionFailed(let endpoint, _) = error else { return false }
            return endpoint == "127.0.0.1:2"  // the last one tried
        }
    }

    /// The broker's heartbeats stop (the proxy forwards nothing more) while the client is idle.
    /// The client must drop the connection because of the missed heartbeats, before the I/O
    /// watchdog (15 s) or TCP would. The reason is what proves it (the watchdog and TCP give
    /// others); the time is not asserted: under the full suite a starved 2-core runner has seen
    /// this test's own wait return 5 s late (15.3 s measured for a 10 s wait, 2026-12-06).
    @Test func anIdleConnectionNoticesAHungBrokerByItsMissedHeartbeats() async throws {
        let proxy = try StallingProxy(targetPort: try AMQPConfiguration(url: TestBroker.url).port)
        let log = LogCapture()
        let connection = try await TestBroker.connect(logger: log.logger) {
            $0.port = proxy.port
            $0.heartbeat = 1
            $0.recovery.initialDelay = 30
        }
        try await Task.sleep(for: .seconds(2.5))
        #expect(connection.status == .open, "heartbeats keep an idle connection open past two intervals")
        proxy.stall()
        let stalledAt = Date()
        let noticed = await eventually(within: 10) { connection.status != .open }
        let elapsed = Date().timeIntervalSince(stalledAt)
        #expect(noticed)
        let lost = log.all.first { $0.message.hasPrefix("AMQP connection lost") }
        #expect(
            lost?.metadata["amqp.error"]?.contains("no heartbeat from the broker") == true,
            "noticed after \(elapsed) s, reason: \(lost?.metadata ?? [:])")
        await connection.close(timeout: 0.1)
        proxy.stop()
    }

    @Test func tlsConnectsWithTheBrokersCA() async throws {
        var configuration = try AMQPConfiguration(url: TestBroker.tlsURL)
        configuration.tls?.caCertificateFile = TestBroker.caFile
        configuration.connectionName = "test tls"
        let connection = try await AMQPConnection.connect(configuration, logger: TestBroker.logger)
        let queue = TestBroker.uniqueName("tls")
        try await connection.declare(Topology(queues: [QueueDeclaration(name: queue, autoDelete: true)]))
        try await connection.publish(Data("secret".utf8), exchange: "", routingKey: queue)
        let got = try #require(try await connection.get(queue: queue))
        #expect(got.delivery.body == Data("secret".utf8))
        got.delivery.ack()
        await connection.close()
    }

    @Test func tlsRefusesABrokerCertificateFromAnotherCA() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(TestBroker.uniqueName("ca"))
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let otherCA = directory.appendingPathComponent("other-ca.pem").path
        try await TestBroker.run(
            "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=not the broker's CA",
                "-keyout", directory.appendingPathComponent("other-ca.key").path, "-out", otherCA,
            ])
        var configuration = try AMQPConfiguration(url: TestBroker.tlsURL)
        configuration.tls?.caCertificateFile = otherCA
        await #expect {
            _ = try await AMQPConnection.connect(configuration, logger: TestBroker.logger)
        } throws: { error in
            guard case AMQPError.tlsFailed(_, let reason) = error else { return false }
            return reason.contains("certificate")
        }
    }

    @Test func tlsRefusesAHostNameTheCertificateDoesNotName() async throws {
        var configuration = try AMQPConfiguration(url: TestBroker.tlsURL)
        configuration.host = "127.0.0.1"  // the broker's certificate names only "localhost"
        configuration.tls?.caCertificateFile = TestBroker.caFile
        await #expect {
            _ = try await AMQPConnection.connect(configuration, logger: TestBroker.logger)
        } throws: { error in
            guard case AMQPError.tlsFailed(let endpoint, _) = error else { return false }
            return endpoint.hasPrefix("127.0.0.1:")
        }
    }

    @Test func closeIsIdempotentAndLaterCallsFailWithClosed() async throws {
        let connection = try await TestBroker.connect()
        await connection.close()
        await connection.close()
        #expect(connection.status == .closed)
        await #expect(throws: AMQPError.closed) {
            try await connection.publish(Data(), exchange: "", routingKey: "x")
        }
    }
}
