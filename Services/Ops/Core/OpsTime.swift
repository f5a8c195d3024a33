import Foundation
import Messages

/// Times on the command line: ISO-8601 with an offset (`2026-01-13T08:00:00+07:00`), or a time
/// ago (`90s`, `90m`, `2h`, `3d`).
public enum OpsTime {
    public static func parse(_ text: String, now: Date = Date()) throws -> Date {
        if let date = MessageCoding.parse(text) { return date }
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        if let unit = text.last.flatMap({ units[$0] }), let amount = Double(text.dropLast()), amount >= 0 {
            return now.addingTimeInterval(-amount * unit)
        }
        throw OpsError.usage("'\(text)' is not a time: use ISO-8601 with an offset (2026-01-13T08:00:00+07:00) or a time ago (90m, 2h, 3d)")
    }

    /// What `operation` returns, or nil when it has not finished within `seconds` (it is then
    /// cancelled).
    static func within<Value: Sendable>(_ seconds: Double, _ operation: @escaping @Sendable () async throws -> Value?) async throws
        -> Value?
    {
        try await withThrowingTaskGroup(of: Value?.self) { group in
            group.addTask { try await operation() }
            group.addTask {
                try await Task.sleep(for: .seconds(seconds))
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }
}
