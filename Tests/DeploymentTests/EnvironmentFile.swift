import Foundation

/// An example environment file as systemd's `EnvironmentFile=` and compose's `env_file` both
/// read it: `KEY=value` lines, `#` comments. Commented-out settings (`# KEY=…`) count as listed.
struct EnvironmentFile {
    /// The settings, in file order.
    let assignments: [(key: String, value: String)]
    /// Keys that appear only commented out (`# KEY=…`): listed, left at their default.
    let commented: Set<String>

    init(path: String) throws {
        var assignments: [(String, String)] = []
        var commented = Set<String>()
        let text = try String(contentsOfFile: path, encoding: .utf8)
        for rawLine in text.split(separator: "\n") {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("#") {
                let body = line.dropFirst().trimmingCharacters(in: .whitespaces)
                if let equals = body.firstIndex(of: "="), Self.isKey(body[..<equals]) { commented.insert(String(body[..<equals])) }
                continue
            }
            guard !line.isEmpty else { continue }
            guard let equals = line.firstIndex(of: "="), Self.isKey(line[..<equals]) else {
                throw ParseError(line: line)
            }
            assignments.append((String(line[..<equals]), String(line[line.index(after: equals)...])))
        }
        self.assignments = assignments
        self.commented = commented.subtracting(assignments.map(\.0))
    }

    var values: [String: String] { Dictionary(assignments, uniquingKeysWith: { _, last in last }) }
    var keys: Set<String> { Set(assignments.map(\.key)) }

    private static func isKey(_ text: Substring) -> Bool {
        guard let first = text.first, first.isUppercase else { return false }
        return text.allSatisfy { $0.isUppercase || $0.isNumber || $0 == "_" }
    }

    struct ParseError: Error, CustomStringConvertible {
        let line: String
        var description: String { "not KEY=value: \(line)" }
    }
}
