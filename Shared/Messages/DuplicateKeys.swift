import Foundation

/// Finds a key that appears twice in one JSON object.
///
/// JSON parsers disagree about such a body: Foundation keeps the first value, Python's `json`
/// the last. A body with a repeated key is therefore ambiguous, and the services refuse it
/// rather than guess what the sender meant. Keys are compared after unescaping, so `"a"` and
/// `"\u0061"` are the same key.
enum DuplicateKeys {
    /// The path of the first repeated key (`delegates[1].email`), or nil when there is none or
    /// the text is not JSON (the decoder reports that).
    static func first(in data: Data) -> String? {
        data.withUnsafeBytes { buffer in
            var scanner = Scanner(bytes: buffer.bindMemory(to: UInt8.self))
            return try? scanner.value(path: "")
        } ?? nil
    }

    private struct NotJSON: Error {}

    /// Objects and arrays nested deeper than this are not scanned (the decoder refuses them
    /// with its own limit, the same 512): a body of a million `[` must not exhaust the stack.
    static let maxDepth = 512

    private struct Scanner {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0
        var depth = 0

        /// Scans one value; returns the path of a repeated key if one is found inside it.
        mutating func value(path: String) throws -> String? {
            skipWhitespace()
            guard index < bytes.count else { throw NotJSON() }
            switch bytes[index] {
            case UInt8(ascii: "{"): return try object(path: path)
            case UInt8(ascii: "["): return try array(path: path)
            case UInt8(ascii: "\""):
                _ = try string()
                return nil
            default:
                // A number, true, false or null: whatever runs up to the next delimiter.
                let start = index
                while index < bytes.count, !Self.delimiters.contains(bytes[index]) { index += 1 }
                if index == start { throw NotJSON() }
                return nil
            }
        }

        static let delimiters: Set<UInt8> = Set(",]} \t\r\n".utf8)

        mutating func object(path: String) throws -> String? {
            index += 1
            depth += 1
            defer { depth -= 1 }
            guard depth <= DuplicateKeys.maxDepth else { throw NotJSON() }
            var keys = Set<String>()
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                index += 1
                return nil
            }
            while true {
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw NotJSON() }
                let key = try string()
                let keyPath = path.isEmpty ? key : "\(path).\(key)"
                if !keys.insert(key).inserted { return keyPath }
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw NotJSON() }
                index += 1
                if let found = try value(path: keyPath) { return found }
                skipWhitespace()
                guard index < bytes.count else { throw NotJSON() }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                } else if bytes[index] == UInt8(ascii: "}") {
                    index += 1
                    return nil
                } else {
                    throw NotJSON()
                }
            }
        }

        mutating func array(path: String) throws -> String? {
            index += 1
            depth += 1
            defer { depth -= 1 }
            guard depth <= DuplicateKeys.maxDepth else { throw NotJSON() }
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                index += 1
                return nil
            }
            var position = 0
            while true {
                if let found = try value(path: "\(path)[\(position)]") { return found }
                skipWhitespace()
                guard index < bytes.count else { throw NotJSON() }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                    position += 1
                } else if bytes[index] == UInt8(ascii: "]") {
                    index += 1
                    return nil
                } else {
                    throw NotJSON()
                }
            }
        }

        /// A string's value, escapes resolved.
        mutating func string() throws -> String {
            index += 1
            var result = ""
            var start = index
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    result += text(start..<index)
                    index += 1
                    return result
                }
                guard byte == UInt8(ascii: "\\") else {
                    index += 1
                    continue
                }
                result += text(start..<index)
                index += 1
                guard index < bytes.count else { throw NotJSON() }
                let escaped = bytes[index]
                index += 1
                switch escaped {
                case UInt8(ascii: "u"):
                    var code = try hex4()
                    // A surrogate pair names one scalar.
                    if (0xD800..<0xDC00).contains(code), index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                        bytes[index + 1] == UInt8(ascii: "u")
                    {
                        index += 2
                        let low = try hex4()
                        code = (0xDC00..<0xE000).contains(low) ? 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00) : 0xFFFD
                    }
                    result.unicodeScalars.append(Unicode.Scalar(code) ?? "\u{FFFD}")
                case UInt8(ascii: "n"): result += "\n"
                case UInt8(ascii: "t"): result += "\t"
                case UInt8(ascii: "r"): result += "\r"
                case UInt8(ascii: "b"): result += "\u{08}"
                case UInt8(ascii: "f"): result += "\u{0C}"
                default: result.unicodeScalars.append(Unicode.Scalar(escaped))
                }
                start = index
            }
            throw NotJSON()
        }

        func text(_ range: Range<Int>) -> String {
            String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
        }

        mutating func hex4() throws -> UInt32 {
            guard index + 4 <= bytes.count else { throw NotJSON() }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[index]
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: throw NotJSON()
                }
                value = value << 4 | UInt32(digit)
                index += 1
            }
            return value
        }

        mutating func skipWhitespace() {
            while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
        }
    }
}
