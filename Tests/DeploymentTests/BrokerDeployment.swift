import AMQP
import Crypto
import Foundation
import TestSupport
import Testing

/// `deploy/rabbitmq/definitions.json` imported into the private test broker as an operator
/// would, under names of its own so that nothing else on the broker is touched: the vhost
/// becomes `test.deploy.<id>` and each user `<user>-t<id>`. `run` deletes the vhost and the
/// users afterwards.
///
/// Each `rabbitmqctl` call starts an Erlang VM (a second of CPU, far more while the whole suite
/// runs), so the copy carries password hashes for the test, and `deploy/rabbitmq/set-passwords`
/// sets one user's password (`setPasswordWithScript`), as an operator sets them all.
struct BrokerDeployment: Sendable {
    let id: String
    let vhost: String
    /// Broker user by the name definitions.json gives it (`registrations`, `delegation-ops`, …).
    let users: [String: String]
    let passwords: [String: String]
    let directory: URL

    static func run(_ body: (BrokerDeployment) async throws -> Void) async throws {
        let deployment = try await make()
        do {
            try await body(deployment)
        } catch {
            await deployment.remove()
            throw error
        }
        await deployment.remove()
    }

    private static func make() async throws -> BrokerDeployment {
        let id = String(UUID().uuidString.prefix(8)).lowercased()
        let vhost = "test.deploy.\(id)"
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("deploy-\(id)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)

        // The same file, renamed.
        var definitions = try Deployment.definitions()
        let names = try #require(definitions["users"] as? [[String: Any]]).compactMap { $0["name"] as? String }
        let users = Dictionary(uniqueKeysWithValues: names.map { ($0, "\($0)-t\(id)") })
        func renamed(_ key: String, _ change: (inout [String: Any]) -> Void) {
            definitions[key] = (definitions[key] as? [[String: Any]] ?? []).map { entry in
                var entry = entry
                change(&entry)
                return entry
            }
        }
        renamed("vhosts") { $0["name"] = vhost }
        let passwords = Dictionary(uniqueKeysWithValues: names.map { ($0, Self.newPassword()) })
        renamed("users") {
            let name = $0["name"] as? String ?? ""
            $0["name"] = users[name]
            $0["password_hash"] = Self.passwordHash(passwords[name] ?? "")
        }
        for key in ["permissions", "topic_permissions"] {
            renamed(key) {
                $0["vhost"] = vhost
                $0["user"] = users[$0["user"] as? String ?? ""]
            }
        }
        renamed("policies") { $0["vhost"] = vhost }
        let file = directory.appendingPathComponent("definitions.json")
        try JSONSerialization.data(withJSONObject: definitions).write(to: file)

        // The integration user gets a new password from the script (`setPasswordWithScript`).
        var finalPasswords = passwords
        finalPasswords[Self.scripted] = Self.newPassword()
        let deployment = BrokerDeployment(id: id, vhost: vhost, users: users, passwords: finalPasswords, directory: directory)
        do {
            try await TestBroker.ctl("import_definitions", file.path)
            // The import finishes in the background: wait until a user may connect.
            let imported = await eventually(within: 30) {
                guard let connection = try? await deployment.connect(as: "registrations") else { return false }
                await connection.close()
                return true
            }
            try #require(imported, "definitions imported into \(vhost)")
        } catch {
            await deployment.remove()
            throw error
        }
        return deployment
    }

    /// The user whose password `setPasswordWithScript` sets; until then it cannot connect.
    static let scripted = "integration"

    /// Sets `scripted`'s password as an operator does: a file per user, then the script.
    func setPasswordWithScript() async throws {
        let folder = directory.appendingPathComponent("passwords")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let user = try #require(users[Self.scripted])
        try Data("\(passwords[Self.scripted] ?? "")\n".utf8).write(to: folder.appendingPathComponent(user))
        let output = try await TestBroker.run(
            "/usr/bin/env",
            [
                "RABBITMQCTL=\(Deployment.root)/deploy/broker ctl", "\(Deployment.deploy)/rabbitmq/set-passwords", "--wait", "30", "--from",
                folder.path, user,
            ])
        #expect(output == "set the password of \(user)\n", "set-passwords: \(output)")
    }

    private static func newPassword() -> String {
        UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
    }

    /// What `rabbit_password_hashing_sha256` stores: base64(salt ‖ SHA-256(salt ‖ password)).
    private static func passwordHash(_ password: String) -> String {
        let salt = Data((0..<4).map { _ in UInt8.random(in: 0...255) })
        return (salt + Data(SHA256.hash(data: salt + Data(password.utf8)))).base64EncodedString()
    }

    /// Deletes the vhost (its queues, exchanges, permissions and policies go with it), the users
    /// and the files.
    func remove() async {
        // One Erlang call for all of it; the CLI commands one by one if that fails.
        let binary = { (text: String) in "<<\"\(text)\">>" }
        let userNames = users.values.sorted().map(binary).joined(separator: ", ")
        let expression =
            "rabbit_vhost:delete(\(binary(vhost)), <<\"deployment-tests\">>), "
            + "[rabbit_auth_backend_internal:delete_user(U, <<\"deployment-tests\">>) || U <- [\(userNames)]], ok."
        if (try? await TestBroker.ctl("eval", expression)) == nil {
            _ = try? await TestBroker.ctl("delete_vhost", vhost)
            for user in users.values { _ = try? await TestBroker.ctl("delete_user", user) }
        }
        try? FileManager.default.removeItem(at: directory)
    }

    /// The AMQP URL a process uses to connect as `user` (a name from definitions.json).
    func url(as user: String) throws -> String {
        let broker = TestBroker.configuration()
        let name = try #require(users[user])
        let password = try #require(passwords[user])
        return "amqp://\(name):\(password)@\(broker.host):\(broker.port)/\(vhost)"
    }

    /// Connects as `user` (a name from definitions.json), recovery off: a refusal is final.
    func connect(as user: String, _ purpose: String = #function) async throws -> AMQPConnection {
        let name = try #require(users[user])
        let password = try #require(passwords[user])
        return try await TestBroker.connect("\(purpose) as \(user)", vhost: vhost) { configuration in
            configuration.user = name
            configuration.password = password
            configuration.recovery.enabled = false
        }
    }

    /// Runs `body` on a fresh connection as `user` and expects the broker to refuse it with
    /// ACCESS_REFUSED (403).
    func expectRefused(
        _ user: String, _ what: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: (AMQPConnection) async throws -> Void
    ) async throws {
        let connection = try await connect(as: user)
        do {
            try await body(connection)
            Issue.record("\(user) was allowed to \(what)", sourceLocation: sourceLocation)
        } catch let error as AMQPError {
            #expect(
                error.replyCode == .accessRefused && "\(error)".contains("ACCESS_REFUSED"), "\(user) \(what): \(error)",
                sourceLocation: sourceLocation)
        }
        await connection.close()
    }
}
