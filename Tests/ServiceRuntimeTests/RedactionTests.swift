import ServiceRuntime
import Testing

@Suite struct RedactionTests {
    @Test(arguments: [
        ("550 5.1.1 <li.wei@example.cn>: Recipient address rejected", "550 5.1.1 <<address>>: Recipient address rejected"),
        ("RCPT TO:nguyen.thu.ha@danang.gov.vn refused", "RCPT TO:<address> refused"),
        ("two: a@b.vn, c.d@e.cn", "two: <address>, <address>"),
        ("451 4.3.0 try again later", "451 4.3.0 try again later"),
    ])
    func addressesAreTakenOutAndTheRestKept(input: String, expected: String) {
        #expect(Redaction.emailAddresses(in: input) == expected)
    }
}
