/// CSV text as RFC 4180 writes it, read leniently about line ends.
///
/// Fields are separated by commas; a field in double quotes may hold commas, line breaks and
/// quotes written twice (`""`). Records end with CRLF, LF or a lone CR. A UTF-8 byte order mark
/// at the very start is skipped. A line break at the end of the text does not make an empty
/// record. Every record knows the line it starts on (1-based), so a problem in it can be shown
/// where a person will look for it.
///
/// Malformed records (a quote inside an unquoted field, text after a closing quote, a quoted
/// field that never closes) are reported in `errors` and left out of `records`; the rest of the
/// text is still read.
public struct CSV: Sendable, Equatable {
    /// One row: its fields, and the line it starts on.
    public struct Record: Sendable, Equatable {
        public var line: Int
        public var fields: [String]

        public init(line: Int, fields: [String]) {
            self.line = line
            self.fields = fields
        }
    }

    /// Why a record could not be read, and on which line (where the mistake is, which may be
    /// after the line the record starts on).
    public struct SyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
        public var line: Int
        public var message: String

        public init(line: Int, message: String) {
            self.line = line
            self.message = message
        }

        public var description: String { "line \(line): \(message)" }
    }

    public var records: [Record]
    public var errors: [SyntaxError]

    public init(records: [Record], errors: [SyntaxError]) {
        self.records = records
        self.errors = errors
    }

    /// Splits `text` into records.
    public init(parsing text: String) {
        var parser = Parser(bytes: Array(text.utf8))
        parser.run()
        self.init(records: parser.records, errors: parser.errors)
    }

    /// A byte scanner: the delimiters are ASCII, so no UTF-8 sequence can contain them and
    /// fields are cut at byte boundaries that are always character boundaries.
    private struct Parser {
        let bytes: [UInt8]
        var index = 0
        var line = 1
        var records: [Record] = []
        var errors: [SyntaxError] = []

        init(bytes: [UInt8]) {
            self.bytes = bytes
            if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
        }

        mutating func run() {
            while index < bytes.count {
                readRecord()
            }
        }

        /// Reads one record, from `index` up to and including its line break.
        private mutating func readRecord() {
            let start = line
            var fields: [String] = []
            var error: SyntaxError?
            while true {
                let (field, fieldError) = readField()
                fields.append(field)
                if error == nil { error = fieldError }
                guard index < bytes.count else { break }
                let byte = bytes[index]
                if byte == .comma {
                    index += 1
                    continue
                }
                // The field ended on a line break (readField stops only there or at a comma).
                consumeLineBreak()
                break
            }
            if let error {
                errors.append(error)
            } else {
                records.append(Record(line: start, fields: fields))
            }
        }

        /// Reads one field, stopping before the comma or line break that ends it.
        private mutating func readField() -> (String, SyntaxError?) {
            guard index < bytes.count, bytes[index] == .quote else {
                return readUnquotedField()
            }
            let opening = line
            index += 1
            var value: [UInt8] = []
            while index < bytes.count {
                let byte = bytes[index]
                if byte == .quote {
                    if index + 1 < bytes.count, bytes[index + 1] == .quote {
                        value.append(.quote)
                        index += 2
                        continue
                    }
                    index += 1
                    return (String(decoding: value, as: UTF8.self), skipAfterClosingQuote())
                }
                if byte == .lineFeed || (byte == .carriageReturn && !(index + 1 < bytes.count && bytes[index + 1] == .lineFeed)) {
                    line += 1
                }
                value.append(byte)
                index += 1
            }
            return (
                String(decoding: value, as: UTF8.self),
                SyntaxError(line: opening, message: "a quoted field that starts here is never closed (a '\"' is missing)")
            )
        }

        private mutating func readUnquotedField() -> (String, SyntaxError?) {
            let start = index
            var error: SyntaxError?
            while index < bytes.count {
                let byte = bytes[index]
                if byte == .comma || byte == .lineFeed || byte == .carriageReturn { break }
                if byte == .quote, error == nil {
                    error = SyntaxError(
                        line: line,
                        message:
                            "a '\"' inside a field that does not start with one: "
                            + "put the whole field in quotes and write the quote twice (\"\")"
                    )
                }
                index += 1
            }
            return (String(decoding: bytes[start..<index], as: UTF8.self), error)
        }

        /// After a closing quote only a comma, a line break or the end may follow; anything else
        /// is skipped up to one of those and reported.
        private mutating func skipAfterClosingQuote() -> SyntaxError? {
            guard index < bytes.count, bytes[index] != .comma, bytes[index] != .lineFeed, bytes[index] != .carriageReturn else {
                return nil
            }
            let error = SyntaxError(
                line: line,
                message:
                    "text after the closing '\"' of a quoted field: "
                    + "the whole field must be in quotes, with inner quotes written twice (\"\")"
            )
            while index < bytes.count, bytes[index] != .comma, bytes[index] != .lineFeed, bytes[index] != .carriageReturn {
                index += 1
            }
            return error
        }

        private mutating func consumeLineBreak() {
            if bytes[index] == .carriageReturn, index + 1 < bytes.count, bytes[index + 1] == .lineFeed {
                index += 2
            } else {
                index += 1
            }
            line += 1
        }
    }
}
