import Crypto
import Foundation
import SwiftASN1
import X509

/// The self-signed certificate that answers a `tls-alpn-01` challenge (RFC 8737 §3): presented on
/// port 443 to a client that negotiates ALPN `acme-tls/1` with the identifier as SNI.
public enum TLSALPNChallengeCertificate {
    /// The ALPN protocol id the validation server offers, and the only one the responder may select.
    public static let alpnProtocol = "acme-tls/1"

    /// id-pe-acmeIdentifier (RFC 8737 §6.1).
    public static let acmeIdentifierOID: ASN1ObjectIdentifier = [1, 3, 6, 1, 5, 5, 7, 1, 31]

    /// A fresh key and a self-signed certificate with the identifier as its only dNSName and the
    /// critical acmeIdentifier extension holding the DER OCTET STRING of SHA-256(keyAuthorization).
    /// Valid from an hour ago for a week: validation happens within minutes, the margin covers clocks.
    public static func make(
        for challenge: ACMEChallenge,
        now: Date = Date()
    ) throws -> (certificateDER: [UInt8], privateKey: P256.Signing.PrivateKey) {
        let key = P256.Signing.PrivateKey()
        var digestSerializer = DER.Serializer()
        try digestSerializer.serialize(ASN1OctetString(contentBytes: ArraySlice(challenge.keyAuthorizationDigest)))
        let acmeIdentifier = Certificate.Extension(
            oid: acmeIdentifierOID,
            critical: true,
            value: ArraySlice(digestSerializer.serializedBytes)
        )
        let name = try DistinguishedName { CommonName("ACME tls-alpn-01 challenge") }
        let extensions = try Certificate.Extensions {
            SubjectAlternativeNames([.dnsName(challenge.identifier)])
            acmeIdentifier
        }
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: Certificate.PublicKey(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600),
            notValidAfter: now.addingTimeInterval(7 * 86400),
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: extensions,
            issuerPrivateKey: Certificate.PrivateKey(key)
        )
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        return (serializer.serializedBytes, key)
    }

    /// The SHA-256 digest inside a certificate's acmeIdentifier extension, or nil when it has none or
    /// the value is not an OCTET STRING of 32 bytes. For checks and tests.
    public static func acmeIdentifierDigest(in certificate: Certificate) throws -> [UInt8]? {
        guard let ext = certificate.extensions[oid: acmeIdentifierOID] else { return nil }
        let octets = try ASN1OctetString(derEncoded: ext.value)
        guard octets.bytes.count == 32 else { return nil }
        return Array(octets.bytes)
    }
}
