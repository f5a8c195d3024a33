import Foundation

/// A systemd unit file, parsed as systemd reads it: `[Section]` headers, `Key=Value` lines
/// (whitespace around `=` dropped), `#` and `;` comments, `\` continuing a line, and keys that
/// may repeat (list settings accumulate; an empty assignment resets the list).
struct SystemdUnit {
    private var sections: [String: [String: [String]]] = [:]

    init(path: String) throws {
        try self.init(text: String(contentsOfFile: path, encoding: .utf8))
    }

    init(text: String) throws {
        var section: String?
        var pending = ""
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = pending + rawLine.trimmingCharacters(in: .whitespaces)
            pending = ""
            if line.hasSuffix("\\") {
                line.removeLast()
                pending = line + " "
                continue
            }
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]") else { throw ParseError(line: line, reason: "unterminated section header") }
                section = String(line.dropFirst().dropLast())
                continue
            }
            guard let current = section else { throw ParseError(line: line, reason: "setting before any [Section]") }
            guard let equals = line.firstIndex(of: "=") else { throw ParseError(line: line, reason: "no '='") }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber }) else {
                throw ParseError(line: line, reason: "bad key '\(key)'")
            }
            sections[current, default: [:]][key, default: []].append(value)
        }
    }

    var sectionNames: Set<String> { Set(sections.keys) }

    /// Every assignment of `key` in `section`, in order.
    func values(_ key: String, in section: String = "Service") -> [String] {
        sections[section]?[key] ?? []
    }

    /// The value in force: the last assignment.
    func value(_ key: String, in section: String = "Service") -> String? {
        values(key, in: section).last
    }

    /// A list setting's items after every assignment (an empty one clears what came before).
    func list(_ key: String, in section: String = "Service") -> [String] {
        var items: [String] = []
        for value in values(key, in: section) {
            if value.isEmpty { items = [] } else { items += value.split(separator: " ").map(String.init) }
        }
        return items
    }

    struct ParseError: Error, CustomStringConvertible {
        let line: String
        let reason: String
        var description: String { "\(reason): \(line)" }
    }
}
