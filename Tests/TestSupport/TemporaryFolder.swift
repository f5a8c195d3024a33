import Foundation

/// A folder of its own under the system's temporary directory, removed with the value (keep it
/// alive to the end of the test: `defer { withExtendedLifetime(folder) {} }`).
public final class TemporaryFolder: Sendable {
    public let url: URL

    /// `prefix` names what the folder is for, to tell leftovers apart.
    public init(_ prefix: String = "test") throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    /// The path of `name` inside the folder.
    public func path(_ name: String) -> String { url.appendingPathComponent(name).path }
}
