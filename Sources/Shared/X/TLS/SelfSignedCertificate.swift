import Crypto
import Foundation
import NIOSSL
import X509

/// An in-process certificate for listeners started without one (GOST's `tls://:443` works the same),
/// made with swift-certificates so no openssl binary is needed.
public struct SelfSignedCertificate: Sendable {
    public let certificatePEM: String
    public let privateKeyPEM: String

    public init(commonName: String = "tunnel", dnsNames: [String] = ["localhost"], validity: TimeInterval = 365 * 24 * 3600) throws {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName(commonName) }
        let now = Date()
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600),
            notValidAfter: now.addingTimeInterval(validity),
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                KeyUsage(digitalSignature: true)
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(dnsNames.map { .dnsName($0) })
            },
            issuerPrivateKey: .init(key)
        )
        self.certificatePEM = try certificate.serializeAsPEM().pemString
        self.privateKeyPEM = key.pemRepresentation
    }

    func serverConfiguration() throws -> TLSConfiguration {
        let cert = try NIOSSLCertificate(bytes: Array(certificatePEM.utf8), format: .pem)
        let key = try NIOSSLPrivateKey(bytes: Array(privateKeyPEM.utf8), format: .pem)
        return TLSConfiguration.makeServerConfiguration(certificateChain: [.certificate(cert)], privateKey: .privateKey(key))
    }
}

extension TLSOptions {
    /// The server context of a `tls` listener: its files, or a fresh self-signed certificate. With
    /// a `caFile` the listener requires a client certificate signed by that CA (mutual TLS): a
    /// client without one, or with one from another CA, fails the handshake.
    public func makeServerContext() throws -> NIOSSLContext {
        var config: TLSConfiguration
        if let certFile, let keyFile {
            config = TLSConfiguration.makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(certFile).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem)))
        } else {
            config = try SelfSignedCertificate().serverConfiguration()
        }
        config.minimumTLSVersion = requireTLS13 ? .tlsv13 : .tlsv12
        config.applicationProtocols = applicationProtocols
        if let caFile {
            // Only this CA: the system roots must not vouch for agents.
            config.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
            config.certificateVerification = .noHostnameVerification
        }
        return try NIOSSLContext(configuration: config)
    }

    /// Whether a listener with these options asks clients for a certificate.
    public var requiresClientCertificate: Bool { caFile != nil }
}
