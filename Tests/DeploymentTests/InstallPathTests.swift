import Foundation
import TestSupport
import Testing

/// The scripts' install path, which CI never takes (its machine has every package): a fresh
/// clone (no `.run/` yet) on a machine missing a package, with `apt-get`, `dpkg-query` and `id`
/// replaced by stubs that record what they were asked.
@Suite struct InstallPathTests {
    /// Runs `ensure_packages ARGS` from `deploy/lib/common.sh` with the stubs first on PATH;
    /// `installFails` makes the first `apt-get install` fail, as it does before `apt-get update`.
    static func ensurePackages(_ arguments: [String], missing: Set<String>, root: Bool = true, installFails: Bool = false) async throws
        -> (status: Int32, output: String, calls: [String], runDir: URL)
    {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("install-\(UUID().uuidString.prefix(8))")
        let stubs = base.appendingPathComponent("stubs")
        try FileManager.default.createDirectory(at: stubs, withIntermediateDirectories: true)
        let calls = base.appendingPathComponent("calls")
        func stub(_ name: String, _ body: String) throws {
            let file = stubs.appendingPathComponent(name)
            try ("#!/bin/sh\n" + body).write(to: file, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: file.path)
        }
        let missingList = missing.sorted().joined(separator: " ")
        try stub(
            "dpkg-query",
            """
            pkg="$3"
            for m in \(missingList); do [ "$pkg" = "$m" ] && exit 1; done
            printf 'install ok installed'
            """)
        try stub(
            "apt-get",
            """
            echo "apt-get $*" >> "\(calls.path)"
            echo "apt-get output for $*"
            if [ "\(installFails)" = true ] && [ "$1" = "install" ] && ! grep -q '^apt-get update' "\(calls.path)"; then exit 100; fi
            exit 0
            """)
        try stub("id", root ? "echo 0" : "echo 1000")
        let runDir = base.appendingPathComponent("fresh-clone/.run")  // does not exist
        let script = "source '\(TestBroker.root)/deploy/lib/common.sh' && ensure_packages \(arguments.joined(separator: " "))"
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] = "\(stubs.path):/usr/bin:/bin"
        environment["DELEGATION_RUN_DIR"] = runDir.path
        environment["DELEGATION_POLICY_RC_D"] = base.appendingPathComponent("policy-rc.d").path
        let log = base.appendingPathComponent("out.log")
        let process = try ServiceProcess(executable: "/bin/bash", arguments: ["-c", script], environment: environment, logFile: log)
        let status = await process.wait(within: 30) ?? -1
        let recorded = (try? String(contentsOf: calls, encoding: .utf8))?.split(separator: "\n").map(String.init) ?? []
        return (status, process.log, recorded, runDir)
    }

    @Test func aMissingPackageIsInstalledOnAFreshCloneWithoutARunFolder() async throws {
        let result = try await Self.ensurePackages(["python3-pika"], missing: ["python3-pika", "zlib1g-dev"])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.calls.count == 1)
        let call = try #require(result.calls.first)
        #expect(call.hasPrefix("apt-get install") && call.hasSuffix("zlib1g-dev python3-pika"), "\(call)")
        let aptLog = try String(contentsOf: result.runDir.appendingPathComponent("apt.log"), encoding: .utf8)
        #expect(aptLog.contains("apt-get output for install"), "apt's output is kept in the new run folder")
        #expect(result.output.contains("installing zlib1g-dev python3-pika"))
    }

    @Test func anInstallThatFailsIsRetriedAfterUpdatingTheIndexes() async throws {
        let result = try await Self.ensurePackages([], missing: ["rabbitmq-server"], installFails: true)
        #expect(result.status == 0, "\(result.output)")
        #expect(
            result.calls.map { $0.split(separator: " ").prefix(2).joined(separator: " ") } == [
                "apt-get install", "apt-get update", "apt-get install",
            ])
    }

    @Test func nothingIsInstalledWhenNothingIsMissingAndANonRootUserIsToldWhatToInstall() async throws {
        let complete = try await Self.ensurePackages([], missing: [])
        #expect(complete.status == 0 && complete.calls.isEmpty)
        let user = try await Self.ensurePackages([], missing: ["librabbitmq-dev"], root: false)
        #expect(user.status != 0)
        #expect(user.output.contains("missing Debian packages: librabbitmq-dev"))
        #expect(user.calls.isEmpty)
    }
}
