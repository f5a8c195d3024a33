/// Fields of the CSV files (RFC 4180) organisers and site security open in a spreadsheet.
public enum CSVField {
    /// `text` as one field: one a spreadsheet would run as a formula (it starts with `=`, `+`,
    /// `-`, `@`, a tab or a carriage return; names and organisations come from registration
    /// forms) gets a leading `'`; one holding a comma, quote or line break is quoted, inner quotes
    /// doubled.
    public static func escaped(_ text: String) -> String {
        var text = text
        if let first = text.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first) { text = "'" + text }
        guard text.unicodeScalars.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
