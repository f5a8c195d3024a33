/// Takes personal data out of text bound for the logs.
public enum Redaction {
    /// The text with every e-mail address replaced by `<address>`. Mail servers echo the
    /// recipient in their replies ("550 5.1.1 <li.wei@example.cn>: unknown user"), and such
    /// replies are worth logging without the address.
    public static func emailAddresses(in text: String) -> String {
        text.replacing(/[^\s<>"'(),;:\[\]]+@[^\s<>"'(),;:\[\]]+/, with: "<address>")
    }
}
