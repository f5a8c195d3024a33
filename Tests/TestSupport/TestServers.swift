import Foundation
import ServiceRuntime

/// A child process that prints "ready PORT" when it listens.
public final class ReadyProcess: @unchecked Sendable {
    // Set up once in init, then only read.
    let process = Process()
    public private(set) var port = 0

    public init(_ arguments: [String]) async throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let handle = output.fileHandleForReading
        // (read on a thread of its own: a blocking read on one of Swift's cooperative threads, one
        // per core, would stall every test running meanwhile)
        let line = await WorkerThread(label: "ready-process.read").run {
            var data = Data()
            while !data.contains(UInt8(ascii: "\n")) {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                data += chunk
            }
            return String(decoding: data, as: UTF8.self)
        }
        guard line.hasPrefix("ready "), let port = Int(line.dropFirst(6).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            process.terminate()
            throw TestServerError(description: "server did not start: \(arguments.first ?? "") said '\(line)'")
        }
        self.port = port
    }

    /// Stops the server: SIGTERM now, SIGKILL if it still runs 2 s later. Returns at once and
    /// blocks no thread meanwhile: waiting on one of Swift's cooperative threads (one per core)
    /// stalls every test running meanwhile.
    public func stop() {
        process.terminate()
        DispatchQueue.global().asyncAfter(deadline: .now() + 2) { [self] in
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
    }

    /// Stops the server and waits until it has ended (its port is free again).
    public func stopAndWait() async {
        stop()
        while process.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
    }
}

public struct TestServerError: Error, CustomStringConvertible { public let description: String }

/// aiosmtpd, writing what it receives to a folder.
public final class SMTPTestServer: Sendable {
    public let directory: URL
    private let server: ReadyProcess
    public var port: Int { server.port }

    /// `port`: 0 for any free one (a test that restarts a server gives the first one's);
    /// `pipelining`: whether it offers PIPELINING, as most relays do.
    public init(
        starttls: (cert: String, key: String)? = nil, auth: String? = nil, transient: Int = 0, reject: [String] = [], port: Int = 0,
        pipelining: Bool = true
    ) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("smtp-\(UUID().uuidString.prefix(8))")
        var arguments = [
            Self.script("smtp_server.py"), "--maildir", directory.path, "--transient", String(transient), "--port", String(port),
        ]
        if let starttls { arguments += ["--starttls", starttls.cert, starttls.key] }
        if let auth { arguments += ["--auth", auth] }
        for pattern in reject { arguments += ["--reject", pattern] }
        if !pipelining { arguments.append("--no-pipelining") }
        server = try await ReadyProcess(arguments)
    }

    public static func script(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Servers/\(name)").path
    }

    /// The client port each message came from, in arrival order: messages over one connection
    /// share it.
    public var clientPorts: [Int] {
        struct Envelope: Decodable {
            var clientPort: Int?
            enum CodingKeys: String, CodingKey { case clientPort = "client_port" }
        }
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return files.filter { $0.hasSuffix(".json") }.sorted().compactMap {
            FileManager.default.contents(atPath: directory.appendingPathComponent($0).path)
                .flatMap { try? JSONDecoder().decode(Envelope.self, from: $0).clientPort }
        }
    }

    /// The received messages (raw bytes), in arrival order.
    public var messages: [Data] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return files.filter { $0.hasSuffix(".eml") }.sorted().compactMap {
            FileManager.default.contents(atPath: directory.appendingPathComponent($0).path)
        }
    }

    public func stop() {
        server.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Stops the server and waits until its port is free (for a restart on the same port).
    public func stopAndWait() async {
        await server.stopAndWait()
        try? FileManager.default.removeItem(at: directory)
    }
}

/// An HTTP server recording webhook calls and answering with the given statuses in turn.
public final class WebhookTestServer: Sendable {
    public let directory: URL
    private let server: ReadyProcess
    public var port: Int { server.port }
    public var url: URL { URL(string: "http://127.0.0.1:\(port)/hook")! }

    /// `answer`: a JSON body to answer with (an OTLP receiver answers `{}`).
    public init(statuses: [Int] = [200], answer: String? = nil) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("hook-\(UUID().uuidString.prefix(8))")
        server = try await ReadyProcess(
            [
                SMTPTestServer.script("webhook_server.py"), "--dir", directory.path, "--statuses",
                statuses.map(String.init).joined(separator: ","),
            ] + (answer.map { ["--answer", $0] } ?? []))
    }

    public struct Call: Decodable, Sendable {
        public let headers: [String: String]
        public let body: String
        public let status: Int
    }

    public var calls: [Call] { recordedCalls(in: directory) }

    public func stop() {
        server.stop()
        try? FileManager.default.removeItem(at: directory)
    }
}

/// A local fake of a provider's API (`Servers/<script>`: Twilio's Messages API, Zalo's ZNS and
/// OAuth, WeChat's template messages), giving its documented answers and errors and recording
/// every call.
public final class ProviderFake: Sendable {
    public let directory: URL
    private let server: ReadyProcess
    public var url: URL { URL(string: "http://127.0.0.1:\(server.port)")! }

    public init(_ script: String, _ arguments: [String]) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("fake-\(UUID().uuidString.prefix(8))")
        server = try await ReadyProcess([SMTPTestServer.script(script), "--dir", directory.path] + arguments)
    }

    public struct Call: Decodable, Sendable {
        public let path: String
        public let headers: [String: String]
        /// A form's fields, or
        public let form: [String: String]?
        /// a JSON body as it came.
        public let body: String?

        /// A header, whatever its case.
        public func header(_ name: String) -> String? { headers.first { $0.key.lowercased() == name.lowercased() }?.value }
    }

    public var calls: [Call] { recordedCalls(in: directory) }

    public func stop() {
        server.stop()
        try? FileManager.default.removeItem(at: directory)
    }
}

/// The calls a test server recorded in `directory` (`<n>.json`, in order).
func recordedCalls<Call: Decodable>(in directory: URL) -> [Call] {
    let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
    return files.filter { $0.hasSuffix(".json") }.sorted().compactMap { name in
        FileManager.default.contents(atPath: directory.appendingPathComponent(name).path).flatMap {
            try? JSONDecoder().decode(Call.self, from: $0)
        }
    }
}

/// Parses a received e-mail with Python's `email` package and returns what tests check (each
/// attachment's text also under `attachment:<file name>`).
public func inspectEmail(_ raw: Data) async throws -> [String: String] {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("\(UUID().uuidString).eml")
    try raw.write(to: file)
    defer { try? FileManager.default.removeItem(at: file) }
    let script = """
        import email, json, sys
        from email import policy
        m = email.message_from_bytes(open(sys.argv[1], 'rb').read(), policy=policy.default)
        out = {'subject': str(m['subject']), 'from': str(m['from']), 'to': str(m['to']), 'message-id': str(m['message-id']),
               'content-type': m.get_content_type()}
        for part in m.walk():
            ct = part.get_content_type()
            if ct in ('text/plain', 'text/html'):
                out[ct] = part.get_content()
            elif part.get_filename():
                out['attachment'] = part.get_filename()
                out['attachment-type'] = ct
                out['attachment-body'] = part.get_payload(decode=True).decode('utf-8')
                out['attachment:' + part.get_filename()] = out['attachment-body']
        print(json.dumps(out, ensure_ascii=False))
        """
    let output = try await TestBroker.run("/usr/bin/python3", ["-c", script, file.path])
    return try JSONDecoder().decode([String: String].self, from: Data(output.utf8))
}
