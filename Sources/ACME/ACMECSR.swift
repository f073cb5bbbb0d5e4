import Crypto
import SwiftASN1
import X509

/// The certificate signing request sent to `finalize` (RFC 8555 §7.4): the names as subjectAltName
/// dNSNames in an extensionRequest attribute, signed with the certificate key (not the account key).
enum ACMECSR {
    static func der(names: [String], key: P256.Signing.PrivateKey) throws -> [UInt8] {
        guard let first = names.first else { throw ACMEError("a CSR needs at least one name") }
        // The common name is optional and limited to 64 characters (RFC 5280 ub-common-name); CAs
        // take the names from the SAN extension.
        let subject: DistinguishedName =
            first.utf8.count <= 64 ? try DistinguishedName { CommonName(first) } : DistinguishedName()
        let extensions = try Certificate.Extensions {
            SubjectAlternativeNames(names.map { GeneralName.dnsName($0) })
        }
        let request = try CertificateSigningRequest(
            version: .v1,
            subject: subject,
            privateKey: Certificate.PrivateKey(key),
            attributes: CertificateSigningRequest.Attributes([
                try CertificateSigningRequest.Attribute(ExtensionRequest(extensions: extensions))
            ]),
            signatureAlgorithm: .ecdsaWithSHA256
        )
        var serializer = DER.Serializer()
        try serializer.serialize(request)
        return serializer.serializedBytes
    }
}
