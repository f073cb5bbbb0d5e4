import Crypto
import Foundation
import NIOSSL
import SwiftASN1
import X509

/// How relays of a cluster authenticate each other: TLS 1.3 both ways, each side presenting the
/// cluster's peer certificate and accepting only certificates its peer CA signed. The material
/// is part of the shared identity (sealed in etcd), so only relays holding the cluster key have it.
///
/// Why its own CA rather than the agents' one: the agents' server certificate is for server use
/// only, and the relay keeps no CA key to sign another; a peer CA made for the cluster signs one
/// certificate for client and server use and its key is then thrown away.
enum PeerTLS {
    struct Material: Equatable, Sendable {
        var ca: String
        var cert: String
        var key: String
    }

    /// The ALPN of peer sessions (a peer port answers nothing else).
    static let alpn = "tunnel-peer/1"

    /// A new peer CA (10 years) and the one certificate it signs (10 years, client and server).
    static func issue() throws -> Material {
        let (ca, caKey) = try RelayState.makeCA(commonName: "tunnel cluster peer CA")
        let caName = ca.subject
        let now = Date()
        let key = P256.Signing.PrivateKey()
        let cert = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(10 * 365 * 86400),
            issuer: caName, subject: try DistinguishedName { CommonName("tunnel cluster peer") }, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                KeyUsage(digitalSignature: true)
                try ExtendedKeyUsage([.serverAuth, .clientAuth])
                SubjectAlternativeNames([.dnsName("tunnel-peer")])
            },
            issuerPrivateKey: .init(caKey))
        return Material(ca: try ca.serializeAsPEM().pemString, cert: try cert.serializeAsPEM().pemString, key: key.pemRepresentation)
    }

    private static func configure(_ c: inout TLSConfiguration, _ m: Material) throws {
        c.minimumTLSVersion = .tlsv13
        c.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(m.cert.utf8)).map { .certificate($0) }
        c.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(m.key.utf8), format: .pem))
        c.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(m.ca.utf8)))
        // Every relay presents the same certificate: who it is comes from the cluster, not a name.
        c.certificateVerification = .noHostnameVerification
        c.applicationProtocols = [alpn]
    }

    /// What a peer port serves with: a client certificate of the peer CA is required.
    static func serverContext(_ m: Material) throws -> NIOSSLContext {
        var c = TLSConfiguration.makeServerConfiguration(certificateChain: [], privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(m.key.utf8), format: .pem)))
        try configure(&c, m)
        return try NIOSSLContext(configuration: c)
    }

    /// What a relay dials its peers with.
    static func clientContext(_ m: Material) throws -> NIOSSLContext {
        var c = TLSConfiguration.makeClientConfiguration()
        try configure(&c, m)
        return try NIOSSLContext(configuration: c)
    }
}
