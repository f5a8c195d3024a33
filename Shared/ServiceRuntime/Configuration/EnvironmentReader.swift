import Foundation
import Messages

/// Reads settings from the environment, collecting every problem instead of stopping at the
/// first, so that a misconfigured service says everything that is wrong in one error.
///
/// Any setting `NAME` may instead come from a file: `NAME_FILE=/path` (Docker and Kubernetes
/// secrets), or a file called `NAME` in `$CREDENTIALS_DIRECTORY` (systemd's `LoadCredential=`).
/// A file's content is used without its final line breaks. A setting given twice (`NAME` and
/// `NAME_FILE`, or `NAME` and a credential) is a problem.
public struct EnvironmentReader: Sendable {
    public let values: [String: String]
    public private(set) var problems: [String] = []

    public init(_ values: [String: String]) { self.values = values }

    /// The setting's text: from the environment, from `NAME_FILE`, or from the credentials
    /// directory, in that order; nil when none has it (or it is empty).
    private mutating func text(_ key: String) -> String? {
        let direct = values[key].flatMap { $0.isEmpty ? nil : $0 }
        if let path = values["\(key)_FILE"], !path.isEmpty {
            guard direct == nil else {
                problems.append("\(key) and \(key)_FILE are both set: keep one")
                return direct
            }
            return read(path, for: "\(key)_FILE")
        }
        if let folder = values["CREDENTIALS_DIRECTORY"], !folder.isEmpty {
            let path = URL(fileURLWithPath: folder).appendingPathComponent(key).path
            if FileManager.default.fileExists(atPath: path) {
                guard direct == nil else {
                    problems.append("\(key) is set and is also a credential in $CREDENTIALS_DIRECTORY: keep one")
                    return direct
                }
                return read(path, for: "\(key) (in $CREDENTIALS_DIRECTORY)")
            }
        }
        return direct
    }

    private mutating func read(_ path: String, for name: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path), let content = String(data: data, encoding: .utf8) else {
            problems.append("\(name): cannot read '\(path)' as UTF-8 text")
            return nil
        }
        var text = Substring(content)
        while let last = text.last, last == "\n" || last == "\r" { text.removeLast() }
        return text.isEmpty ? nil : String(text)
    }

    public mutating func string(_ key: String, default value: String) -> String {
        text(key) ?? value
    }

    public mutating func optionalString(_ key: String) -> String? {
        text(key)
    }

    public mutating func integer(_ key: String, default value: Int, in range: ClosedRange<Int>) -> Int {
        guard let text = text(key) else { return value }
        guard let number = Int(text), range.contains(number) else {
            problems.append("\(key)='\(text)' must be a whole number from \(range.lowerBound) to \(range.upperBound)")
            return value
        }
        return number
    }

    public mutating func seconds(_ key: String, default value: Double, in range: ClosedRange<Double>) -> Double {
        guard let text = text(key) else { return value }
        guard let number = Double(text), range.contains(number) else {
            problems.append("\(key)='\(text)' must be a number of seconds from \(range.lowerBound) to \(range.upperBound)")
            return value
        }
        return number
    }

    /// A comma-separated list of durations in seconds, e.g. `1,5,30`.
    public mutating func secondsList(_ key: String, default value: [Double]) -> [Double] {
        guard let text = text(key) else { return value }
        let parts = text.split(separator: ",").map { Double(String($0).trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ ($0 ?? -1) > 0 }) else {
            problems.append("\(key)='\(text)' must be a comma-separated list of positive seconds, e.g. 1,5,30")
            return value
        }
        return parts.compactMap { $0 }
    }

    public mutating func boolean(_ key: String, default value: Bool) -> Bool {
        guard let text = text(key)?.lowercased() else { return value }
        switch text {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default:
            problems.append("\(key)='\(text)' must be true or false")
            return value
        }
    }

    public mutating func choice<T: RawRepresentable>(_ key: String, default value: T, from choices: [T]) -> T where T.RawValue == String {
        guard let text = text(key) else { return value }
        guard let choice = T(rawValue: text.lowercased()), choices.contains(where: { $0.rawValue == choice.rawValue }) else {
            problems.append("\(key)='\(text)' must be one of \(choices.map(\.rawValue).joined(separator: ", "))")
            return value
        }
        return choice
    }

    /// Records a problem found by the caller's own checks.
    public mutating func problem(_ text: String) { problems.append(text) }

    /// `key` read by `parse`, if set: nil, with the problem noted (`KEY: <error>`), when it throws.
    public mutating func parsed<T>(_ key: String, _ parse: (String) throws -> T) -> T? {
        guard let text = optionalString(key) else { return nil }
        do {
            return try parse(text)
        } catch {
            problem("\(key): \(error)")
            return nil
        }
    }

    /// The identity-document keys in `key` (`id:base64[,id:base64…]`, current first), required:
    /// nil, with the problem noted, when missing or invalid.
    public mutating func identityVault(_ key: String) -> IdentityVault? {
        guard let spec = optionalString(key) else {
            problem("\(key) is required: the AES-256 key(s) sealing identity documents, e.g. k1:$(openssl rand -base64 32)")
            return nil
        }
        do {
            return try IdentityVault(spec: spec)
        } catch {
            problem("\(key): \(error)")
            return nil
        }
    }

    /// X25519 private keys for sealed identity documents (`id:base64[,…]`, current first), if set.
    public mutating func documentKeys(_ key: String) -> DocumentKeys? {
        guard let spec = optionalString(key) else { return nil }
        do {
            return try DocumentKeys(spec: spec)
        } catch {
            problem("\(key): \(error) (make one with `registrations document-keys generate`)")
            return nil
        }
    }

    /// Another service's X25519 public key for sealed identity documents (`id:base64`), if set.
    public mutating func documentPublicKey(_ key: String) -> DocumentKeys.PublicKey? {
        guard let spec = optionalString(key) else { return nil }
        do {
            return try DocumentKeys.PublicKey(spec: spec)
        } catch {
            problem("\(key): \(error)")
            return nil
        }
    }

    /// Throws one error listing every problem, if there were any.
    public func validate() throws(ConfigurationError) {
        guard problems.isEmpty else { throw ConfigurationError(problems: problems) }
    }
}

/// Every invalid setting, one per line.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public let problems: [String]
    public init(problems: [String]) { self.problems = problems }
    public var description: String {
        "invalid configuration (\(problems.count) problem\(problems.count == 1 ? "" : "s")):\n"
            + problems.map { "  - \($0)" }.joined(separator: "\n")
    }
}
