import Foundation
import ServiceRuntime
import TestSupport
import Testing

/// `<service> tokens create|list|revoke`, as an operator runs them: the real executables on a
/// store of their own; the token printed once is the one the HTTP side accepts.
@Suite struct TokenCommandTests {
    @Test(arguments: Deployment.services)
    func tokensAreCreatedListedAndRevokedFromTheCommandLine(_ service: Deployment.Service) async throws {
        let folder = try TemporaryFolder("tokens")
        defer { withExtendedLifetime(folder) {} }
        var environment = EnvironmentExampleTests.runnable(try EnvironmentFile(path: service.environmentExample), service)
        let storePath = folder.path("\(service.name).sqlite")
        environment["\(service.prefix)_STORE_PATH"] = storePath

        let created = try await Self.run(service, ["tokens", "create", "--name", "prometheus", "--scope", "read"], environment)
        #expect(created.status == 0, "\(created.output)")
        let secret = try #require(created.output.split(separator: "\n").first { $0.hasPrefix("dlg_") }.map(String.init))
        let store = try ServiceStore(path: storePath, synchronous: .normal, migrations: { _ in })
        let client = try await store.database.read { db in try APITokens.client(presenting: secret, in: db) }
        #expect(client?.name == "prometheus" && client?.scope == .read)
        let id = try #require(client?.tokenID)

        let listed = try await Self.run(service, ["tokens", "list"], environment)
        #expect(listed.output.contains("\(id)  read") && listed.output.contains("in force"), "\(listed.output)")
        #expect(!listed.output.contains(String(secret.suffix(64))), "the list never shows a secret")

        let revoked = try await Self.run(service, ["tokens", "revoke", id], environment)
        #expect(revoked.status == 0, "\(revoked.output)")
        #expect(try await store.database.read { db in try APITokens.client(presenting: secret, in: db) } == nil)
        #expect(try await Self.run(service, ["tokens", "list"], environment).output.contains("revoked "))

        // A scope that does not exist, or revoking twice: a clear error, exit 64.
        let bad = try await Self.run(service, ["tokens", "create", "--name", "x", "--scope", "everything"], environment)
        #expect(bad.status == 64 && bad.output.contains("--scope must be one of read, personal-data, admin"), "\(bad.output)")
        let twice = try await Self.run(service, ["tokens", "revoke", id], environment)
        #expect(twice.status == 64 && twice.output.contains("no token '\(id)' in force"), "\(twice.output)")
    }

    static func run(_ service: Deployment.Service, _ arguments: [String], _ environment: [String: String]) async throws
        -> (status: Int32?, output: String)
    {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("tokens-\(service.name)-\(UUID().uuidString).log")
        defer { try? FileManager.default.removeItem(at: log) }
        let process = try ServiceProcess(
            executable: ServiceTestBed.executable(service.name), arguments: arguments, environment: environment, logFile: log)
        let status = await process.wait(within: 30)
        if status == nil { process.signal(SIGKILL) }
        return (status, process.log)
    }
}
