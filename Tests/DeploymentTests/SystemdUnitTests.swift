import Foundation
import TestSupport
import Testing

/// `deploy/systemd/`: one hardened unit per service, matching the executables and the example
/// environment files.
@Suite struct SystemdUnitTests {
    @Test(arguments: Deployment.services)
    func theUnitRunsTheServiceAsItsOwnUnprivilegedUser(_ service: Deployment.Service) async throws {
        let unit = try SystemdUnit(path: service.unit)
        #expect(unit.sectionNames == ["Unit", "Service", "Install"])
        #expect(unit.value("Type") == "exec")
        #expect(unit.value("WantedBy", in: "Install") == "multi-user.target")

        // ExecStart runs an executable product of Package.swift, with a subcommand it has.
        let exec = try #require(unit.value("ExecStart")).split(separator: " ").map(String.init)
        #expect(exec == ["/usr/local/bin/\(service.name)", "serve"])
        let manifest = try String(contentsOfFile: "\(Deployment.root)/Package.swift", encoding: .utf8)
        #expect(
            Deployment.permits(#"\.executableTarget\(\s*name:\s*"\#(service.name)""#, manifest),
            "Package.swift has an executable target \(service.name)")
        let help = try await TestBroker.run(ServiceTestBed.executable(service.name), ["serve", "--help"])
        #expect(
            help.split(separator: "\n").contains("USAGE: \(service.name) serve"),
            "the subcommand is called serve (not a name derived from a generic type): \(help)")

        // Its own user, never root; the sysusers snippet creates it.
        let user = try #require(unit.value("User"))
        #expect(user == "delegation-\(service.name)")
        #expect(unit.value("Group") == user)
        let sysusers = try String(contentsOfFile: "\(Deployment.deploy)/systemd/delegation.sysusers.conf", encoding: .utf8)
        #expect(
            sysusers.split(separator: "\n").contains {
                $0.split(separator: " ", omittingEmptySubsequences: true).prefix(2) == ["u", Substring(user)]
            })
    }

    @Test(arguments: Deployment.services)
    func theUnitReadsTheExampleSettingsAndKeepsTheStoreInItsStateDirectory(_ service: Deployment.Service) throws {
        let unit = try SystemdUnit(path: service.unit)
        let environmentFile = try #require(unit.value("EnvironmentFile"))
        #expect(environmentFile == "/etc/delegation/\(service.name).env")
        let example = "\(Deployment.deploy)/env/\(URL(fileURLWithPath: environmentFile).lastPathComponent).example"
        #expect(FileManager.default.fileExists(atPath: example), "\(environmentFile) has an example in deploy/env")

        let stateDirectory = try #require(unit.value("StateDirectory"))
        #expect(stateDirectory == "delegation/\(service.name)")
        #expect(unit.value("WorkingDirectory") == "/var/lib/\(stateDirectory)")
        let settings = try EnvironmentFile(path: service.environmentExample).values
        let store = try #require(settings["\(service.prefix)_STORE_PATH"])
        #expect(
            URL(fileURLWithPath: store).deletingLastPathComponent().path == "/var/lib/\(stateDirectory)",
            "the store is in the unit's StateDirectory")
    }

    @Test(arguments: Deployment.services)
    func theUnitRestartsOnFailureButNotOnAConfigurationErrorAndWaitsForAGracefulStop(_ service: Deployment.Service) throws {
        let unit = try SystemdUnit(path: service.unit)
        #expect(unit.value("Restart") == "on-failure")
        #expect(Deployment.seconds(unit.value("RestartSec") ?? "").map { $0 >= 1 } == true, "RestartSec of at least a second")
        #expect(unit.list("RestartPreventExitStatus").contains("78"), "exit 78 (invalid configuration) is not restarted in a loop")
        #expect(unit.value("KillSignal") ?? "SIGTERM" == "SIGTERM")

        // systemd's SIGKILL comes only after the service's own shutdown budget.
        let settings = try EnvironmentFile(path: service.environmentExample).values
        let shutdown = try #require(Double(settings["\(service.prefix)_SHUTDOWN_TIMEOUT"] ?? "20"))
        let stop = try #require(Deployment.seconds(unit.value("TimeoutStopSec") ?? ""), "TimeoutStopSec is set")
        #expect(stop > shutdown + 5, "TimeoutStopSec \(stop) s leaves room after \(service.prefix)_SHUTDOWN_TIMEOUT \(shutdown) s")
    }

    @Test(arguments: Deployment.services)
    func theUnitIsHardened(_ service: Deployment.Service) throws {
        let unit = try SystemdUnit(path: service.unit)
        let required: [String: String] = [
            "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes", "PrivateDevices": "yes",
            "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes", "ProtectKernelLogs": "yes", "ProtectControlGroups": "yes",
            "ProtectClock": "yes", "ProtectHostname": "yes", "RestrictNamespaces": "yes", "RestrictRealtime": "yes",
            "RestrictSUIDSGID": "yes", "LockPersonality": "yes", "MemoryDenyWriteExecute": "yes", "SystemCallArchitectures": "native",
            "UMask": "0077",
        ]
        for (key, value) in required.sorted(by: { $0.key < $1.key }) {
            #expect(unit.value(key) == value, "\(key)=\(value)")
        }
        #expect(unit.values("CapabilityBoundingSet") == [""], "no capabilities at all")
        #expect(unit.list("AmbientCapabilities").isEmpty)
        #expect(Set(unit.list("RestrictAddressFamilies")) == ["AF_INET", "AF_INET6", "AF_UNIX"])
        #expect(unit.values("SystemCallFilter").first == "@system-service")
        // Nothing writable but the state directory: no ReadWritePaths punching holes.
        #expect(unit.values("ReadWritePaths").isEmpty)
        #expect(unit.value("User") != "root" && unit.value("DynamicUser") == nil)
    }
}
