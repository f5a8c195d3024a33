import ArgumentParser
import Foundation
import Logging
import Messages
import ServiceRuntime

/// What each service executable is, for the commands every one of them has (`serve`,
/// `check-config`, `tokens`): its name, how it reads its configuration from the environment, how it runs,
/// and the settings of its own that `check-config` prints.
public protocol ServiceExecutable {
    associatedtype Configuration: Sendable

    /// The executable's name (`registrations`), which prefixes its messages.
    static var name: String { get }
    /// Reads the environment; throws one error listing every invalid setting.
    static func configuration(from environment: [String: String]) throws -> Configuration
    /// The settings every service shares.
    static func service(_ configuration: Configuration) -> ServiceConfiguration
    /// The service's store, opened (and migrated) with its own tables, for the commands that
    /// work on it (`tokens`, exports).
    static func openStore(_ configuration: Configuration) throws -> ServiceStore
    /// Builds the service and runs it until SIGTERM or SIGINT. A problem with what it reads at
    /// start (templates, say) is a `ConfigurationError`: the process exits 78.
    static func serve(_ configuration: Configuration, logger: Logger) async throws
    /// Its own settings, as `check-config` prints them (no secrets).
    static func settings(_ configuration: Configuration) async throws -> [(String, String)]
    /// The keys it opens sealed identity documents with (`document-keys`), if it has any.
    static func documentKeys(_ configuration: Configuration) -> DocumentKeys?
}

extension ServiceExecutable {
    public static func documentKeys(_ configuration: Configuration) -> DocumentKeys? { nil }
}

extension ServiceExecutable {
    /// The configuration, or exit 78 (EX_CONFIG) with every problem on standard error.
    public static func loadConfiguration() throws -> Configuration {
        do {
            return try configuration(from: ProcessInfo.processInfo.environment)
        } catch {
            throw configurationFailure(error)
        }
    }

    static func configurationFailure(_ error: any Error) -> ExitCode {
        FileHandle.standardError.write(Data("\(name): \(error)\n".utf8))
        return ExitCode(78)
    }
}

/// `<service> serve`: runs the service until SIGTERM or SIGINT.
public struct Serve<Executable: ServiceExecutable>: AsyncParsableCommand {
    public static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: "serve", abstract: "Run the service until SIGTERM or SIGINT.")
    }

    public init() {}

    public func run() async throws {
        let configuration = try Executable.loadConfiguration()
        let service = Executable.service(configuration)
        StructuredLogHandler.bootstrap(level: service.logLevel, format: service.logFormat)
        let logger = Logger(label: Executable.name)
        logger.info("starting", metadata: ["store": "\(service.storePath)", "broker": "\(service.amqp)"])
        do {
            guard let tracing = service.tracing else {
                try await Executable.serve(configuration, logger: logger)
                return
            }
            try await SpanExport.around(tracing, logger: logger) { try await Executable.serve(configuration, logger: logger) }
        } catch let error as ConfigurationError {
            throw Executable.configurationFailure(error)
        }
    }
}

/// `<service> check-config`: validates the environment and prints the settings (no secrets).
public struct CheckConfig<Executable: ServiceExecutable>: AsyncParsableCommand {
    public static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: "check-config", abstract: "Validate the environment and print the settings (no secrets).")
    }

    public init() {}

    public func run() async throws {
        let configuration = try Executable.loadConfiguration()
        let s = Executable.service(configuration)
        let own: [(String, String)]
        do {
            own = try await Executable.settings(configuration)
        } catch {
            throw Executable.configurationFailure(error)
        }
        let lines: [(String, String)] =
            [
                ("instance", "\(s.serviceName)\(s.sharding.map { " (a shard behind \($0.exchange))" } ?? "")"),
                ("broker", "\(s.amqp)"),
                ("exchange", s.exchange),
                ("store", "\(s.storePath) (synchronous=\(s.synchronous.rawValue))"),
                ("http", "\(s.httpHost):\(s.httpPort)"),
                ("prefetch/batch", "\(s.prefetch)/\(s.batchSize)"),
                ("retry delays (s)", s.retryDelays.map { String($0) }.joined(separator: ", ")),
                ("delivery limit", "\(s.deliveryLimit)"),
                (
                    "traces",
                    s.tracing.map { "\($0.endpoint) (\($0.wireProtocol.rawValue), service.name \($0.serviceName))" } ?? "not exported"
                ),
            ] + own
        let width = (lines.map(\.0.count).max() ?? 0) + 2
        for (name, value) in lines {
            print((name + ":").padding(toLength: width, withPad: " ", startingAt: 0) + value)
        }
    }
}

/// `<service> tokens create|list|revoke`: the API tokens its HTTP side accepts, kept (hashed) in
/// its store. Once one is in force, every endpoint but `/health/*` asks for a token.
public struct Tokens<Executable: ServiceExecutable>: AsyncParsableCommand {
    public static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "tokens", abstract: "Create, list and revoke the API tokens of the HTTP side.",
            subcommands: [Create.self, List.self, Revoke.self])
    }

    public init() {}

    static func store() throws -> ServiceStore { try Executable.openStore(try Executable.loadConfiguration()) }

    public struct Create: AsyncParsableCommand {
        public static var configuration: CommandConfiguration {
            CommandConfiguration(
                abstract: "Create a token and print it (once: the store keeps only its hash).",
                discussion:
                    "Scopes: read; personal-data (read, and anything with names, addresses, phones or documents); admin (everything).")
        }

        @Option(name: .long, help: "Who or what holds it (shown in the audit log), e.g. prometheus or console.") var name: String
        @Option(name: .long, help: "read, personal-data or admin.") var scope: String

        public init() {}

        public func run() async throws {
            guard let scope = AccessScope(rawValue: scope) else {
                throw ValidationError("--scope must be one of \(AccessScope.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard !name.isEmpty, name.count <= 100 else { throw ValidationError("--name must be 1 to 100 characters") }
            let (token, secret) = APIToken.make(name: name, scope: scope)
            try await Tokens.store().database.write { db in try APITokens.insert(token, in: db) }
            FileHandle.standardError.write(Data("token \(token.id) (\(name), \(scope.rawValue)); it is shown only now:\n".utf8))
            print(secret)
        }
    }

    public struct List: AsyncParsableCommand {
        public static var configuration: CommandConfiguration { CommandConfiguration(abstract: "List the tokens (never their secrets).") }

        public init() {}

        public func run() async throws {
            for token in try await Tokens.store().database.read({ db in try APITokens.all(in: db) }) {
                let state = token.revokedAt.map { "revoked \(MessageCoding.format($0))" } ?? "in force"
                let scope = token.scope.rawValue.padding(toLength: 13, withPad: " ", startingAt: 0)
                print("\(token.id)  \(scope)  \(token.name)  created \(MessageCoding.format(token.createdAt)), \(state)")
            }
        }
    }

    public struct Revoke: AsyncParsableCommand {
        public static var configuration: CommandConfiguration { CommandConfiguration(abstract: "Revoke a token at once.") }

        @Argument(help: "The token's id (as `tokens list` shows it).") var id: String

        public init() {}

        public func run() async throws {
            let id = id
            let (revoked, left) = try await Tokens.store().database.write { db in
                (try APITokens.revoke(id: id, in: db), try APITokens.anyInForce(in: db))
            }
            guard revoked else { throw ValidationError("no token '\(id)' in force") }
            print("revoked \(id)")
            if !left { print("no token is in force now: every endpoint but /health/* refuses until one is created (tokens create)") }
        }
    }
}

/// `<service> document-keys generate|public`: the X25519 key pairs identity documents are sealed
/// to (`SealedDocument`, HPKE; `<PREFIX>_DOCUMENT_KEYS`).
public struct DocumentKeysCommand<Executable: ServiceExecutable>: AsyncParsableCommand {
    public static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "document-keys", abstract: "Make and show the keys identity documents are sealed to (HPKE, X25519).",
            subcommands: [Generate.self, Public.self])
    }

    public init() {}

    static var variable: String { "\(ServiceConfiguration.prefix(for: Executable.name))_DOCUMENT_KEYS" }

    public struct Generate: AsyncParsableCommand {
        public static var configuration: CommandConfiguration {
            CommandConfiguration(
                abstract: "Make a new key pair: the private key for the setting, the public one for whoever seals to it.",
                discussion:
                    "During a rotation, put the new private key first in the setting and keep the old one after it "
                    + "until nothing sealed to it is in flight."
            )
        }

        @Option(name: .long, help: "The key's id (letters, digits, - or _), e.g. the year: r2026.") var id: String

        public init() {}

        public func run() async throws {
            guard !id.isEmpty, id.count <= 40, id.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
                throw ValidationError("--id must be 1 to 40 letters, digits, - or _")
            }
            let (keys, privateSpec) = DocumentKeys.generate(id: id)
            print("private: \(privateSpec)")
            print("public: \(keys.current?.spec ?? "")")
            FileHandle.standardError.write(
                Data(
                    "Keep the private key secret: it goes into \(DocumentKeysCommand.variable) (or \(DocumentKeysCommand.variable)_FILE).\n"
                        .utf8))
        }
    }

    public struct Public: AsyncParsableCommand {
        public static var configuration: CommandConfiguration {
            CommandConfiguration(abstract: "Print the public key documents are sealed to now (from the configured private keys).")
        }

        public init() {}

        public func run() async throws {
            let configuration = try Executable.loadConfiguration()
            guard let current = Executable.documentKeys(configuration)?.current else {
                throw ValidationError("\(DocumentKeysCommand.variable) is not set")
            }
            print(current.spec)
        }
    }
}
