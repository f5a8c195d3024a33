import Foundation
import NIOSSL

/// HTTPS for a service's HTTP side: a PEM certificate chain and its private key.
public struct HTTPTLS: Sendable, Equatable {
    public var certificatePath: String
    public var keyPath: String

    public init(certificatePath: String, keyPath: String) {
        self.certificatePath = certificatePath
        self.keyPath = keyPath
    }

    /// The server's TLS configuration (TLS 1.2 at least), read from the files.
    public func configuration() throws -> TLSConfiguration {
        let chain = try NIOSSLCertificate.fromPEMFile(certificatePath).map { NIOSSLCertificateSource.certificate($0) }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain, privateKey: .privateKey(try NIOSSLPrivateKey(file: keyPath, format: .pem)))
        configuration.minimumTLSVersion = .tlsv12
        return configuration
    }

    /// What is wrong with the files, if anything (read at start, so a bad file stops the service
    /// before it listens).
    var problem: String? {
        do {
            _ = try configuration()
            return nil
        } catch {
            return "cannot use \(certificatePath) and \(keyPath) as a PEM certificate chain and key (\(error))"
        }
    }
}
