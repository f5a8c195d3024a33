import AMQP
import Foundation
import GRDB
import Messages
import TestSupport
import Testing

@testable import ServiceRuntime

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// What the pipeline does with bodies that are ambiguous, compressed or reuse an id, with
/// messages it parked before, with types nobody consumes, and with a store that cannot commit.
@Suite struct PipelineSafetyTests {
    static func submissionText(_ reference: String) throws -> String {
        String(decoding: try MessageCoding.encode(Samples.submission(reference: reference)), as: UTF8.self)
    }

    /// `body` compressed by Python's zlib: `gzip`, `zlib` (HTTP's deflate) or `raw` deflate.
    static func compressed(_ body: Data, _ format: String) async throws -> Data {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("compress-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("in"), output = directory.appendingPathComponent("out")
        try body.write(to: input)
        let wbits = ["gzip": "31", "zlib": "15", "raw": "-15"][format] ?? "15"
        try await TestBroker.run(
            "/usr/bin/python3",
            [
                "-c",
                "import sys, zlib; c = zlib.compressobj(9, zlib.DEFLATED, \(wbits)); d = open(sys.argv[1], 'rb').read(); "
                    + "open(sys.argv[2], 'wb').write(c.compress(d) + c.flush())",
                input.path, output.path,
            ])
        return try Data(contentsOf: output)
    }

    @Test func aBodyThatRepeatsAKeyIsParkedWithTheKeyNamed() async throws {
        try await PipelineTests.withHost { bed, host in
            let text = try Self.submissionText("dup-key")
            let twice = text.replacingOccurrences(
                of: "\"reference\":\"dup-key\"", with: "\"reference\":\"dup-key\",\"reference\":\"other\"")
            #expect(twice != text)
            try await bed.publishRaw(Data(twice.utf8), type: "registration.submitted", messageID: "twice")
            try await bed.publish(Samples.submission(reference: "marker"))
            let parked = try await PipelineTests.waitForDeadLetters(bed, count: 1)
            #expect(parked.first?.headers[FailureHeader.kind]?.stringValue == "invalid-body")
            #expect(parked.first?.headers[FailureHeader.reason]?.stringValue?.contains("reference is given twice") == true)
            #expect(try await eventually(within: 30) { try await PipelineTests.applied(host).map(\.reference) == ["marker"] })
        }
    }

    @Test func gzipAndDeflateBodiesAreReadAndOtherEncodingsAreParkedByName() async throws {
        try await PipelineTests.withHost { bed, host in
            for (reference, format, encoding) in [("gz", "gzip", "gzip"), ("zz", "zlib", "deflate"), ("raw", "raw", "deflate")] {
                let body = try await Self.compressed(Data(try Self.submissionText(reference).utf8), format)
                try await bed.connection.publish(
                    body, exchange: bed.exchange, routingKey: "registration.submitted",
                    properties: MessageProperties(
                        contentType: "application/json", contentEncoding: encoding, messageID: reference, type: "registration.submitted"),
                    mandatory: true)
            }
            // Brotli is not read; a small gzip body that inflates to 9 MiB is not either.
            try await bed.connection.publish(
                Data(try Self.submissionText("br").utf8), exchange: bed.exchange, routingKey: "registration.submitted",
                properties: MessageProperties(
                    contentType: "application/json", contentEncoding: "br", messageID: "br", type: "registration.submitted"),
                mandatory: true)
            let bomb = try await Self.compressed(Data(repeating: 0x20, count: 9 << 20), "gzip")
            #expect(bomb.count < 64 << 10)
            try await bed.connection.publish(
                bomb, exchange: bed.exchange, routingKey: "registration.submitted",
                properties: MessageProperties(
                    contentType: "application/json", contentEncoding: "gzip", messageID: "bomb", type: "registration.submitted"),
                mandatory: true)
            #expect(
                try await eventually(within: 30) { try await Set(PipelineTests.applied(host).map(\.reference)) == ["gz", "zz", "raw"] })
            let parked = try await PipelineTests.waitForDeadLetters(bed, count: 2)
            #expect(parked.count == 2)
            let byID = PipelineTests.byMessageID(parked)
            #expect(byID["br"]?.headers[FailureHeader.reason]?.stringValue?.contains("content encoding 'br' is not supported") == true)
            #expect(byID["bomb"]?.headers[FailureHeader.reason]?.stringValue?.contains("inflates to more than") == true)
        }
    }

    @Test func aMessageIdReusedWithAnotherBodyIsParkedAsAConflictAndNotApplied() async throws {
        try await PipelineTests.withHost { bed, host in
            try await bed.publish(Samples.submission(reference: "first"), messageID: "reused")
            #expect(try await eventually(within: 30) { try await PipelineTests.applied(host).map(\.reference) == ["first"] })
            try await bed.publish(Samples.submission(reference: "second"), messageID: "reused")
            // The same body again is an ordinary duplicate: skipped without a trace.
            try await bed.publish(Samples.submission(reference: "first"), messageID: "reused")
            let parked = try await PipelineTests.waitForDeadLetters(bed, count: 1)
            #expect(parked.first?.headers[FailureHeader.kind]?.stringValue == "conflicting-duplicate")
            #expect(
                parked.first?.headers[FailureHeader.reason]?.stringValue?.contains("'reused' was applied before with another body") == true)
            try await bed.publish(Samples.submission(reference: "marker"))
            #expect(try await eventually(within: 30) { try await PipelineTests.applied(host).map(\.reference) == ["first", "marker"] })
            #expect(try await bed.drainDeadLetters().isEmpty, "the ordinary duplicate was not parked")
        }
    }

    @Test func aParkedMessageThatComesAgainIsNotParkedAgainUnlessOpsRetryIt() async throws {
        try await PipelineTests.withHost { bed, host in
            let poison = try MessageCoding.encode(Samples.submission(reference: "permanent"))
            let unreadable = Data("{\"eventID\": ".utf8)
            try await bed.publishRaw(poison, type: "registration.submitted", messageID: "poison")
            try await bed.publishRaw(unreadable, type: "registration.submitted", messageID: "unreadable")
            #expect(try await PipelineTests.waitForDeadLetters(bed, count: 2).count == 2)

            // As a replay sends them: straight to the inbox, same ids and bodies.
            for (body, id) in [(poison, "poison"), (unreadable, "unreadable")] {
                try await bed.connection.publish(
                    body, exchange: "", routingKey: bed.names.inbox,
                    properties: MessageProperties(contentType: "application/json", messageID: id, type: "registration.submitted"))
            }
            try await bed.publish(Samples.submission(reference: "marker"))
            #expect(try await eventually(within: 30) { try await PipelineTests.applied(host).map(\.reference) == ["marker"] })
            #expect(try await bed.drainDeadLetters().isEmpty, "parked once only")
            #expect(host.metrics.render().contains("outcome=\"already_parked\"} 2"))

            // delegation-ops failed retry marks its copies: those are processed (and parked) again.
            try await bed.connection.publish(
                poison, exchange: "", routingKey: bed.names.inbox,
                properties: MessageProperties(
                    contentType: "application/json", headers: [FailureHeader.retriedBy: "ops"], messageID: "poison",
                    type: "registration.submitted"))
            let again = try await PipelineTests.waitForDeadLetters(bed, count: 1)
            #expect(again.first?.headers[FailureHeader.kind]?.stringValue == "permanent")
        }
    }

    @Test func aMessageOfATypeNoServiceKnowsIsKeptWhereOpsSeeIt() async throws {
        try await PipelineTests.withHost { bed, _ in
            try await bed.publishRaw(Data("{}".utf8), type: "registration.submit", messageID: "typo")
            try await bed.publish(Samples.submission(reference: "known"), messageID: "known")
            #expect(try await eventually(within: 10) { try await bed.connection.queueState(bed.names.unroutedQueue).messageCount == 1 })
            let kept = try #require(try await bed.connection.get(queue: bed.names.unroutedQueue))
            kept.delivery.ack()
            #expect(kept.delivery.properties.messageID == "typo")
            #expect(kept.delivery.routingKey == "registration.submit")
            #expect(kept.remaining == 0, "known types are not kept there")
        }
    }

    /// The store on a tiny filesystem that the test fills up: the pipeline must pause, return
    /// what it holds without using up delivery attempts, say so in readiness, and carry on by
    /// itself once space is back: everything applied once, nothing parked.
    @Test func aStoreThatCannotCommitPausesConsumingAndResumesWithNothingLostOrParked() async throws {
        // Room for the WAL to grow once the filler is gone: each commit adds whole pages to it.
        let disk = try await SmallFilesystem(kilobytes: 2048)
        let bed = try await ServiceTestBed(service: "pipeline")
        var configuration = bed.configuration(retryDelays: [0.3, 0.6], deliveryLimit: 2)
        configuration.storePath = "\(disk.path)/pipeline.sqlite"
        configuration.batchSize = 4
        let host = try await ServiceHost(
            configuration: configuration, dispatcher: ScriptedHandler().dispatcher, logger: TestBroker.logger,
            migrations: ScriptedHandler.migrate, connectPatience: 5)
        let running = Task { try await host.run(signals: []) }
        do {
            try await host.waitUntilStarted()
            try await bed.publish(Samples.submission(reference: "before"), messageID: "before")
            #expect(try await eventually(within: 30) { try await PipelineTests.applied(host).count == 1 })

            try await disk.fill()
            let count = 40
            for n in 0..<count { try await bed.publish(Samples.submission(reference: "full-\(n)"), messageID: "full-\(n)") }
            let paused = await eventually(within: 30) {
                host.metrics.render().contains("pipeline_paused{service=\"\(bed.serviceName)\"} 1.0")
            }
            #expect(paused, "the pipeline pauses")
            let port = try #require(host.httpPort)
            let (body, response) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/health/ready")!)
            #expect((response as? HTTPURLResponse)?.statusCode == 503)
            #expect(String(decoding: body, as: UTF8.self).contains("paused"))
            // Paused for a while: far longer than the deliveries a crash loop would burn.
            try await Task.sleep(for: .seconds(3))

            try disk.free()
            #expect(
                try await eventually(within: 60) { try await PipelineTests.applied(host).count == count + 1 },
                "everything applied once space is back")
            let applied = try await PipelineTests.applied(host).map(\.reference)
            #expect(Set(applied).count == applied.count, "each once")
            #expect(try await bed.drainDeadLetters().isEmpty, "nothing valid parked")
            #expect(host.metrics.render().contains("outcome=\"returned\""), "deliveries were returned, not requeued")
            #expect(
                try await eventually(within: 10) { host.metrics.render().contains("pipeline_paused{service=\"\(bed.serviceName)\"} 0.0") })
        } catch {
            try? disk.free()
            await host.shutdown()
            _ = try? await running.value
            await bed.tearDown()
            await disk.unmount()
            throw error
        }
        await host.shutdown()
        try await running.value
        await bed.tearDown()
        await disk.unmount()
    }
}

/// What a service waits through at start rather than exiting.
@Suite struct StartupTests {
    @Test func theBrokersTemporaryStatesAreWaitedThroughAndRefusalsAreNot() {
        let homeNodeDown = AMQPError.channelClosedByBroker(
            .notFound,
            text: "NOT_FOUND - home node 'rabbit@node1' of durable queue 'delegation.archive' in vhost '/' is down or inaccessible")
        #expect(ServiceHost.isTemporary(homeNodeDown))
        #expect(ServiceHost.isTemporary(.connectionFailed(endpoint: "127.0.0.1:5672", reason: "connection refused")))
        #expect(
            ServiceHost.isTemporary(
                .connectionClosedByBroker(.connectionForced, text: "CONNECTION_FORCED - broker forced connection closure")))
        #expect(ServiceHost.isTemporary(.channelClosedByBroker(.internalError, text: "INTERNAL_ERROR")))
        #expect(!ServiceHost.isTemporary(.connectionClosedByBroker(.accessRefused, text: "ACCESS_REFUSED - Login was refused")))
        #expect(
            !ServiceHost.isTemporary(
                .channelClosedByBroker(.preconditionFailed, text: "PRECONDITION_FAILED - inequivalent arg 'x-delivery-limit'")))
        #expect(!ServiceHost.isTemporary(.channelClosedByBroker(.accessRefused, text: "ACCESS_REFUSED - configure access to queue")))
    }
}

extension StartupTests {
    /// A classic queue lives on one node: re-declaring it while that node is down fails the
    /// recovery of every client that declared it (the cluster test found the unknown-types queue
    /// doing that). Every queue a service declares is replicated.
    @Test func everyQueueAServiceDeclaresIsReplicated() {
        let names = ServiceNames(service: "registrations")
        let topology = ServiceTopology.domain(exchange: "delegation", archiveMaxAge: "30D")
            .merging(ServiceTopology.service(names, consumes: [.registrationSubmitted], retryDelays: [1, 5], deliveryLimit: 5))
        #expect(!topology.queues.isEmpty)
        for queue in topology.queues { #expect(queue.kind != .classic, "\(queue.name) is classic") }
    }
}
