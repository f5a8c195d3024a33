import Foundation
import Logging

/// One line per event on standard error: JSON (for log collectors) or `key=value` text.
///
/// Services log identifiers (message id, type, registration id, queue) and counts in metadata,
/// never bodies, names, e-mail addresses or document numbers.
public struct StructuredLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let format: ServiceConfiguration.LogFormat

    public init(label: String, level: Logger.Level, format: ServiceConfiguration.LogFormat) {
        self.label = label
        self.logLevel = level
        self.format = format
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let time = Date().formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true))
        var line: String
        switch format {
        case .json:
            var object: [String: String] = [
                "time": time, "level": event.level.rawValue, "logger": label, "message": event.message.description,
            ]
            for (key, value) in merged { object[key] = "\(value)" }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
            line = String(decoding: data, as: UTF8.self)
        case .text:
            line = "\(time) \(event.level.rawValue.uppercased()) \(label): \(event.message)"
            for (key, value) in merged.sorted(by: { $0.key < $1.key }) { line += " \(key)=\(value)" }
        }
        line += "\n"
        FileHandle.standardError.write(Data(line.utf8))
    }
}

extension StructuredLogHandler {
    /// Bootstraps swift-log for an executable (call once, before anything logs).
    public static func bootstrap(level: Logger.Level, format: ServiceConfiguration.LogFormat) {
        LoggingSystem.bootstrap { label in StructuredLogHandler(label: label, level: level, format: format) }
    }
}
