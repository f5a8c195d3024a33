import Foundation
import Messages

/// Identity documents on the broker (`SealedDocument`, contract 1.2): integrations seal them to
/// this service's public key in `registration.submitted`; the service opens them, keeps them
/// under its own storage key (`IdentityVault`), and seals them again to itineraries' key in
/// `registration.accepted`, with a copy sealed to the console's key (contract 1.5) where it is
/// given. Plain documents stay accepted unless `requireSealed`.
public struct DocumentSealing: Sendable {
    /// This service's private keys (current first); nil: sealed documents cannot be opened.
    public var keys: DocumentKeys?
    /// Itineraries' public key; nil: `registration.accepted` carries documents in plain text.
    public var itineraries: DocumentKeys.PublicKey?
    /// The console's public key; nil: the console gets no copy (and shows no document numbers).
    public var console: DocumentKeys.PublicKey?
    /// Plain documents in a submission are a validation error (`plain_identity_document`).
    public var requireSealed: Bool

    public init(
        keys: DocumentKeys? = nil, itineraries: DocumentKeys.PublicKey? = nil, console: DocumentKeys.PublicKey? = nil,
        requireSealed: Bool = false
    ) {
        self.keys = keys
        self.itineraries = itineraries
        self.console = console
        self.requireSealed = requireSealed
    }

    /// The submission with every sealed document opened into `identityDocument`, and what is
    /// wrong with any (each with its path; never what a document holds).
    func opened(_ submission: RegistrationSubmitted) -> (RegistrationSubmitted, [ValidationIssue]) {
        var opened = submission
        var issues: [ValidationIssue] = []
        for (index, delegate) in submission.delegates.enumerated() {
            let path = "delegates[\(index)]"
            // Copies are this service's to make (`forReaders`), never an integration's to give.
            opened.delegates[index].sealedIdentityDocumentCopies = nil
            if delegate.identityDocument != nil, delegate.sealedIdentityDocument != nil {
                issues.append(
                    ValidationIssue(
                        path: "\(path).sealedIdentityDocument", code: "identity_document_twice",
                        message: "give identityDocument or sealedIdentityDocument, not both"))
                continue
            }
            if delegate.identityDocument != nil, requireSealed {
                issues.append(
                    ValidationIssue(
                        path: "\(path).identityDocument", code: "plain_identity_document",
                        message:
                            "identity documents must be sealed to this service's key (sealedIdentityDocument, HPKE; docs/contracts/README.md)"
                    ))
                continue
            }
            guard let sealed = delegate.sealedIdentityDocument else { continue }
            guard let keys else {
                issues.append(
                    ValidationIssue(
                        path: "\(path).sealedIdentityDocument", code: "sealed_document_unreadable",
                        message: "this service has no key for sealed documents; send the document in identityDocument"))
                continue
            }
            do {
                opened.delegates[index].identityDocument = try sealed.open(with: keys, reference: submission.reference)
                opened.delegates[index].sealedIdentityDocument = nil
            } catch {
                issues.append(
                    ValidationIssue(path: "\(path).sealedIdentityDocument", code: "sealed_document_unreadable", message: "\(error)"))
            }
        }
        return (opened, issues)
    }

    /// The delegates as `registration.accepted` carries them: each document sealed to
    /// itineraries for this reference when its key is known (else in plain text), and a copy
    /// sealed to the console when its key is known.
    func forReaders(_ delegates: [Delegate], reference: String) throws -> [Delegate] {
        try delegates.map { delegate in
            var delegate = delegate
            guard let document = delegate.identityDocument else { return delegate }
            if let console {
                delegate.sealedIdentityDocumentCopies = [try SealedDocument.seal(document, to: console, reference: reference)]
            }
            if let itineraries {
                delegate.sealedIdentityDocument = try SealedDocument.seal(document, to: itineraries, reference: reference)
                delegate.identityDocument = nil
            }
            return delegate
        }
    }
}
