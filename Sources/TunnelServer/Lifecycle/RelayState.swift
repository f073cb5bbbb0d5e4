import Crypto
import Foundation
import SwiftASN1
import X509
import Shared

/// What a relay generates on first start and reuses after: a CA, a server certificate it signed,
/// and an agent token, in a state directory (files readable by the owner only).
public struct RelayState: Sendable {
    public let directory: String
    public let caCertificateFile: String
    public let certificateFile: String
    public let keyFile: String
    public let token: String
    /// SHA-256 of the server certificate, for agents to pin.
    public let fingerprint: String
    /// Whether this start created the state (first start).
    public let created: Bool

    public static func loadOrCreate(directory: String, hostnames: [String] = ["localhost"]) throws -> RelayState {
        let fm = FileManager.default
        let ca = directory + "/ca.pem"
        let cert = directory + "/server.pem"
        let key = directory + "/server-key.pem"
        let tokenFile = directory + "/agent-token"
        var created = false
        if !fm.fileExists(atPath: cert) || !fm.fileExists(atPath: key) || !fm.fileExists(atPath: tokenFile) {
            try fm.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let (caPEM, certPEM, keyPEM) = try Self.issue(hostnames: hostnames)
            try Self.write(caPEM, to: ca)
            try Self.write(certPEM, to: cert)
            try Self.write(keyPEM, to: key)
            var bytes = [UInt8](repeating: 0, count: 24)
            for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255) }
            try Self.write(bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() + "\n", to: tokenFile)
            created = true
        }
        let token = try String(contentsOfFile: tokenFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let pem = try String(contentsOfFile: cert, encoding: .utf8)
        let der = try PEMDocument(pemString: pem).derBytes
        return RelayState(directory: directory, caCertificateFile: ca, certificateFile: cert, keyFile: key, token: token, fingerprint: CertificatePin.fingerprint(der: der), created: created)
    }

    /// The default state directory: `$TUNNEL_STATE_DIR`, else `$XDG_STATE_HOME/tunnel-server`,
    /// else `~/.local/state/tunnel-server`.
    public static var defaultDirectory: String {
        let env = ProcessInfo.processInfo.environment
        if let dir = env["TUNNEL_STATE_DIR"], !dir.isEmpty { return dir }
        if let xdg = env["XDG_STATE_HOME"], !xdg.isEmpty { return xdg + "/tunnel-server" }
        return (env["HOME"] ?? ".") + "/.local/state/tunnel-server"
    }

    static func write(_ text: String, to path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw EngineError(.notAllowed, "cannot write \(path)")
        }
    }

    /// A self-signed CA valid for 10 years that may sign leaf certificates only, and its key.
    static func makeCA(commonName: String) throws -> (certificate: Certificate, key: P256.Signing.PrivateKey) {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName(commonName) }
        let now = Date()
        let certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(10 * 365 * 86400),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true))
            },
            issuerPrivateKey: .init(key))
        return (certificate, key)
    }

    /// A CA (10 years) and a server certificate for `hostnames` signed by it (2 years).
    static func issue(hostnames: [String]) throws -> (ca: String, cert: String, key: String) {
        let (caCert, caKey) = try makeCA(commonName: "tunnel-server CA")
        let caName = caCert.subject
        let now = Date()
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName(hostnames.first ?? "tunnel-server") }
        let cert = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(2 * 365 * 86400),
            issuer: caName, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                KeyUsage(digitalSignature: true)
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(hostnames.map { .dnsName($0) })
            },
            issuerPrivateKey: .init(caKey))
        return (try caCert.serializeAsPEM().pemString, try cert.serializeAsPEM().pemString, key.pemRepresentation)
    }
}
