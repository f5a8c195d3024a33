import Foundation
import Messages

/// Who did what to which message, and when: one JSON object per line, appended and synced to
/// disk before the action is completed (a retried message is acked after its line is written).
/// Holds message ids, types and reasons, never bodies.
public final class AuditLog: @unchecked Sendable {
    public let file: URL
    public let user: String
    private let lock = NSLock()

    /// The default place: `$DELEGATION_OPS_AUDIT_LOG`, else
    /// `$XDG_STATE_HOME/delegation-ops/audit.log` (`~/.local/state/…`).
    public static func defaultFile(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let path = environment["DELEGATION_OPS_AUDIT_LOG"], !path.isEmpty { return URL(fileURLWithPath: path) }
        let state =
            environment["XDG_STATE_HOME"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".local/state")
        return state.appendingPathComponent("delegation-ops/audit.log")
    }

    /// The person behind the command: `SUDO_USER`, else `USER`, else `LOGNAME`.
    public static func currentUser(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        environment["SUDO_USER"] ?? environment["USER"] ?? environment["LOGNAME"] ?? "unknown"
    }

    public init(file: URL, user: String = AuditLog.currentUser()) throws {
        self.file = file
        self.user = user
        do {
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            if !FileManager.default.fileExists(atPath: file.path) {
                guard FileManager.default.createFile(atPath: file.path, contents: nil) else { throw CocoaError(.fileWriteNoPermission) }
            }
        } catch {
            throw OpsError.invalidInput("cannot write the audit log \(file.path): \(error). Set --audit-log or DELEGATION_OPS_AUDIT_LOG.")
        }
    }

    func record(action: String, message: FailedMessage, detail: String) throws {
        var entry: [String: Any] = [
            "time": MessageCoding.format(Date()), "user": user, "host": ProcessInfo.processInfo.hostName, "action": action,
            "service": message.service, "failed_id": message.id, "type": message.type, "kind": message.kind, "detail": detail,
        ]
        if let id = message.messageID { entry["message_id"] = id }
        try append(entry)
    }

    /// Appends one entry and syncs the file.
    public func append(_ entry: [String: Any]) throws {
        var line = try JSONSerialization.data(withJSONObject: entry, options: [.sortedKeys, .withoutEscapingSlashes])
        line.append(0x0A)
        try lock.withLock {
            let handle = try FileHandle(forWritingTo: file)
            defer { try? handle.close() }
            try handle.seekToEnd()
            try handle.write(contentsOf: line)
            try handle.synchronize()
        }
    }

    /// Every entry so far.
    public func entries() throws -> [[String: Any]] {
        try String(contentsOf: file, encoding: .utf8).split(separator: "\n").compactMap {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }
}
