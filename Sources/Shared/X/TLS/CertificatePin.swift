import Crypto
import NIOSSL

/// Certificate pinning by SHA-256 of the DER certificate: what the relay prints and the agent checks,
/// so a self-signed relay is authenticated without a CA.
public enum CertificatePin {
    /// Lowercase hex SHA-256 of a DER certificate.
    public static func fingerprint(der: [UInt8]) -> String {
        SHA256.hash(data: der).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    /// The fingerprint of a presented certificate, for telling an operator what the node showed.
    static func fingerprint(of certificate: NIOSSLCertificate?) -> String? {
        guard let certificate, let der = try? certificate.toDERBytes() else { return nil }
        return fingerprint(der: der)
    }

    static func matches(_ certificate: NIOSSLCertificate?, _ pin: String) -> Bool {
        guard let certificate, let der = try? certificate.toDERBytes() else { return false }
        return fingerprint(der: der) == pin
    }
}
