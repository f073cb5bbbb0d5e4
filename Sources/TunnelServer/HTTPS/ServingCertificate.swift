import Foundation
import NIOSSL
import Shared
import SwiftASN1
import X509

/// A certificate the relay serves to visitors: the chain (leaf first), its key, and the TLS
/// context made from them once, so a handshake only picks a context and never builds one.
public struct ServingCertificate: Sendable {
    /// What visitors may negotiate on terminated TLS, most preferred first.
    public static let applicationProtocols = ["h2", "http/1.1"]

    /// TLS 1.2 suites offered to visitors (BoringSSL's cipher-list syntax).
    public static let tls12CipherSuites = "ECDHE+AESGCM:ECDHE+CHACHA20"

    public let context: NIOSSLContext
    /// The leaf's DNS names (wildcards as `*.example.org`).
    public let names: [String]
    public let notBefore: Date
    public let notAfter: Date
    /// SHA-256 of the leaf (hex), to tell certificates apart in logs and tests.
    public let fingerprint: String

    /// From PEM text: the chain as a CA hands it out (leaf first, intermediates after) and the key.
    public init(chainPEM: String, keyPEM: String) throws {
        let chain = try NIOSSLCertificate.fromPEMBytes(Array(chainPEM.utf8))
        guard !chain.isEmpty else { throw CertificateError(reason: "no certificate in the PEM text") }
        let key = try NIOSSLPrivateKey(bytes: Array(keyPEM.utf8), format: .pem)
        var config = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        // TLS 1.2 and 1.3, and for 1.2 only ECDHE key exchange with AEAD ciphers (Mozilla's
        // "intermediate" profile). NIOSSL's default list still offers RSA key exchange and CBC
        // suites for old clients; a public relay does not. 1.3's suites are all AEAD already.
        config.minimumTLSVersion = .tlsv12
        config.cipherSuites = Self.tls12CipherSuites
        config.applicationProtocols = Self.applicationProtocols
        context = try NIOSSLContext(configuration: config)
        let leaf = try Certificate(derEncoded: try chain[0].toDERBytes())
        notBefore = leaf.notValidBefore
        notAfter = leaf.notValidAfter
        var names: [String] = []
        if let san = try leaf.extensions.subjectAlternativeNames {
            for name in san {
                if case .dnsName(let dns) = name { names.append(dns) }
            }
        }
        self.names = names
        fingerprint = CertificatePin.fingerprint(der: try chain[0].toDERBytes())
    }

    /// From files (a rule's `certFile`/`keyFile`, or the relay's ACME state).
    public init(certFile: String, keyFile: String) throws {
        let chain: String
        let key: String
        do {
            chain = try String(contentsOfFile: certFile, encoding: .utf8)
        } catch {
            throw CertificateError(reason: "cannot read \(certFile): \(error.localizedDescription)")
        }
        do {
            key = try String(contentsOfFile: keyFile, encoding: .utf8)
        } catch {
            throw CertificateError(reason: "cannot read \(keyFile): \(error.localizedDescription)")
        }
        do {
            try self.init(chainPEM: chain, keyPEM: key)
        } catch let error as CertificateError {
            throw error
        } catch {
            throw CertificateError(reason: "cannot use \(certFile) with \(keyFile): \(error)")
        }
    }

    /// Whether the leaf covers `host` (exactly, or by a one-label wildcard).
    public func covers(_ host: String) -> Bool {
        let h = HostTable<String>.normalize(host)
        return names.contains { name in
            let n = HostTable<String>.normalize(name)
            if n == h { return true }
            guard n.hasPrefix("*."), let dot = h.firstIndex(of: ".") else { return false }
            return h[h.index(after: dot)...] == n.dropFirst(2)
        }
    }
}

/// Why a certificate cannot be used.
public struct CertificateError: Error, CustomStringConvertible, Sendable {
    public var reason: String
    public var description: String { reason }
}
