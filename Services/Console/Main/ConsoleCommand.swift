// The organisers' console (`console serve`, the default) and its accounts (`console users`).
// Configuration comes from the environment (README.md).
import ArgumentParser
import ConsoleCore
import Foundation
import Logging
import Messages
import ServiceCatalog
import ServiceCommand
import ServiceRuntime

@main
struct Console: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "console",
        abstract: "The organisers' pages: the event at a glance, each delegation, the plan as pictures, and their actions.",
        subcommands: [
            Serve<ConsoleExecutable>.self, Users.self, Tokens<ConsoleExecutable>.self, DocumentKeysCommand<ConsoleExecutable>.self,
            CheckConfig<ConsoleExecutable>.self,
        ],
        defaultSubcommand: Serve<ConsoleExecutable>.self)
}

enum ConsoleExecutable: ServiceExecutable {
    static let name = "console"

    static func configuration(from environment: [String: String]) throws -> ConsoleConfiguration {
        try ConsoleConfiguration.fromEnvironment(environment, services: SystemServices.all.map(\.name))
    }

    static func service(_ configuration: ConsoleConfiguration) -> ServiceConfiguration { configuration.service }

    static func documentKeys(_ configuration: ConsoleConfiguration) -> DocumentKeys? { configuration.documentKeys }

    static func openStore(_ configuration: ConsoleConfiguration) throws -> ServiceStore {
        try ServiceStore(
            path: configuration.service.storePath, synchronous: configuration.service.synchronous, migrations: ConsoleStore.migrate)
    }

    static func serve(_ configuration: ConsoleConfiguration, logger: Logger) async throws {
        try await ConsoleService.makeHost(configuration, pages: try pages(configuration), logger: logger).run()
    }

    static func settings(_ configuration: ConsoleConfiguration) async throws -> [(String, String)] {
        let pages = try pages(configuration)
        let cookies = configuration.secureCookies ? "Secure (HTTPS only)" : "not Secure (plain HTTP)"
        return [
            ("assets", "\(configuration.assets) (\(pages.strings.count) languages)"),
            ("event", configuration.eventID ?? "the last programme received"),
            ("sessions", "\(Int(configuration.sessionLifetime / 60)) min, cookies \(cookies)"),
            (
                "document keys",
                configuration.documentKeys.map { keys in keys.privateKeys.map(\.id).joined(separator: ", ") }
                    ?? "none (no document numbers kept)"
            ),
            ("parked queues", configuration.parkedQueues.joined(separator: ", ")),
        ]
    }

    /// The pages; a template or translation that does not load is a configuration problem.
    static func pages(_ configuration: ConsoleConfiguration) throws -> ConsolePages {
        do {
            return try ConsolePages(assets: configuration.assets)
        } catch {
            throw ConfigurationError(problems: ["CONSOLE_ASSETS: \(error)"])
        }
    }
}

/// `console users add|list|remove|password|role`: the console's accounts, kept in its store.
struct Users: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Add, list and remove the console's accounts, set a password, or change a role.",
        subcommands: [Add.self, List.self, Remove.self, Password.self, SetRole.self])

    static func role(_ text: String) throws -> Accounts.Role {
        guard let role = Accounts.Role(rawValue: text) else {
            throw ValidationError("--role must be one of \(Accounts.Role.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return role
    }

    static func store() throws -> ServiceStore { try ConsoleExecutable.openStore(try ConsoleExecutable.loadConfiguration()) }

    /// The password from a file, or the first line of standard input (never an argument: it would
    /// show in the process list and the shell's history).
    static func password(file: String?) throws -> String {
        let text: String?
        if let file {
            text = try String(contentsOfFile: file, encoding: .utf8).split(whereSeparator: \.isNewline).first.map(String.init)
        } else {
            text = readLine(strippingNewline: true)
        }
        guard let text, !text.isEmpty else { throw ValidationError("no password: give --password-file or one line on standard input") }
        return text
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add an account; the password (12 characters or more) comes from --password-file or standard input.")
        @Option(name: .long, help: "The account's name (letters, digits, '.', '_', '-').") var name: String
        @Option(name: .long, help: "organiser, marshal or viewer.") var role: String
        @Flag(name: .long, help: "Grant the personal-data role too: identity document numbers in the manifests.")
        var personalData = false
        @Option(name: .long, help: "A file whose first line is the password.") var passwordFile: String?

        func run() async throws {
            let account = Accounts.Account(name: name, role: try Users.role(role), personalData: personalData)
            let password = try Users.password(file: passwordFile)
            do {
                try await Users.store().database.write { db in
                    try Accounts.add(name: account.name, role: account.role, personalData: account.personalData, password: password, in: db)
                    try Accounts.audit(
                        account: "(command line)", action: "users add", subject: account.name, outcome: account.roles, in: db)
                }
            } catch let problem as Accounts.Problem {
                throw ValidationError(problem.description)
            }
            print("added \(account.name) (\(account.roles))")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the accounts.")
        func run() async throws {
            for account in try await Users.store().database.read({ db in try Accounts.all(in: db) }) {
                print("\(account.name)\t\(account.roles)")
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove an account (its sessions end).")
        @Option(name: .long) var name: String
        func run() async throws {
            let name = name
            do {
                try await Users.store().database.write { db in
                    try Accounts.remove(name: name, in: db)
                    try Accounts.audit(account: "(command line)", action: "users remove", subject: name, outcome: "ok", in: db)
                }
            } catch let problem as Accounts.Problem {
                throw ValidationError(problem.description)
            }
            print("removed \(name)")
        }
    }

    struct Password: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set an account's password (its sessions end).")
        @Option(name: .long) var name: String
        @Option(name: .long, help: "A file whose first line is the password.") var passwordFile: String?
        func run() async throws {
            let password = try Users.password(file: passwordFile)
            let name = name
            do {
                try await Users.store().database.write { db in
                    try Accounts.setPassword(name: name, password: password, in: db)
                    try Accounts.audit(account: "(command line)", action: "users password", subject: name, outcome: "ok", in: db)
                }
            } catch let problem as Accounts.Problem {
                throw ValidationError(problem.description)
            }
            print("password set for \(name)")
        }
    }

    struct SetRole: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "role", abstract: "Change an account's role, and grant or withdraw personal-data (its sessions carry on).")
        @Option(name: .long) var name: String
        @Option(name: .long, help: "organiser, marshal or viewer.") var role: String
        @Flag(name: .long, inversion: .prefixedNo, help: "Whether the account also has the personal-data role.")
        var personalData = false
        func run() async throws {
            let account = Accounts.Account(name: name, role: try Users.role(role), personalData: personalData)
            do {
                try await Users.store().database.write { db in
                    try Accounts.setRole(name: account.name, role: account.role, personalData: account.personalData, in: db)
                    try Accounts.audit(
                        account: "(command line)", action: "users role", subject: account.name, outcome: account.roles, in: db)
                }
            } catch let problem as Accounts.Problem {
                throw ValidationError(problem.description)
            }
            print("\(account.name) is \(account.roles)")
        }
    }
}
